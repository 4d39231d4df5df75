"""The package layout: one subpackage per stage of the flow, imports only down the flow.

    spvit_fpga (helpers: errors, outdir, _resources)   <- everything may import these
    nn  ->  ir  ->  quant  ->  hw  ->  hls, rtl  ->  builder  ->  the command modules

"A -> B": B may import A, never the reverse; hls and rtl never import each other.  Every import of
every module of the package (absolute or relative, at the top or inside a function) is resolved
to the module it loads and checked: (a) against that order, (b) for import cycles between modules,
(c) for imports of the top-level ``rtl_sim`` package (testbenches are run by name, never imported),
(d) at most 12 ``.py`` files at the top of the package, (e) every stage's ``__init__`` says what it
owns and what it may import.  The checker runs on a small fake package too, to show it fails on
today's mistakes (the old checkpoint <-> quant cycle, an upward import, hls importing rtl).
"""
from __future__ import annotations

import ast
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "spvit_fpga"

HELPERS = {"errors", "outdir", "_resources"}  # and the package's own __init__ (the version)
STAGES = {"nn": 1, "ir": 2, "quant": 3, "hw": 4, "hls": 5, "rtl": 5, "builder": 6, "reports": 7, "peers": 7}
COMMANDS = {"__main__", "train", "evaluate", "export", "generate", "simulate", "report", "interop"}
MAX_TOP_FILES = 12


def _modules(root: Path) -> dict[str, tuple[Path, bool]]:
    """Module name -> (file, is a package ``__init__``) of every .py file of the package."""
    out = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        parts = list(rel.parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_pkg)
    return out


def _imports(name: str, path: Path, is_pkg: bool, known: set[str]) -> list[tuple[int, str]]:
    """(line, module) of every import in ``path``; ``from X import y`` is ``X.y`` when that is a module."""
    here = name if is_pkg else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = here.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            for a in node.names:
                sub = f"{base}.{a.name}"
                found.append((node.lineno, sub if sub in known else base))
    return found


def _layer(module: str) -> tuple[str, int]:
    """(layer name, rank) of a module of the package: helpers 0, stages 1..6, commands 7, else -1."""
    parts = module.split(".")
    if len(parts) == 1 or (parts[1] in HELPERS and len(parts) == 2):
        return "helpers", 0
    if parts[1] in STAGES:
        return parts[1], STAGES[parts[1]]
    if parts[1] in COMMANDS and len(parts) == 2:
        return "commands", 7
    return "nowhere", -1


def _allowed(importer: str, imported: str) -> bool:
    (a, ra), (b, rb) = _layer(importer), _layer(imported)
    if a == "commands" or b == "helpers" or a == b:
        return True
    if a == "helpers":
        return False
    return rb < ra  # strictly earlier in the flow; hls and rtl share a rank and so never import each other


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), plus self-imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def layout_problems(root: Path) -> list[str]:
    """Every violation of the layout rules in the package under ``root`` (empty: all good)."""
    mods = _modules(root)
    known = set(mods)
    problems = [f"{name} belongs to no stage: put it in a subpackage, or make it a command or helper"
                for name in mods if _layer(name)[1] < 0]
    graph: dict[str, set[str]] = {}
    for name, (path, is_pkg) in mods.items():
        for line, target in _imports(name, path, is_pkg, known):
            where = f"{path.relative_to(root)}:{line}"
            top = target.split(".")[0]
            if top == "rtl_sim":
                problems.append(f"{where}: {name} imports {target}; pass testbenches to cocotb by name instead")
            if top != PACKAGE:
                continue
            if target not in known:
                problems.append(f"{where}: {name} imports {target}, which does not exist")
                continue
            if min(_layer(name)[1], _layer(target)[1]) >= 0 and not _allowed(name, target):
                problems.append(f"{where}: {name} ({_layer(name)[0]}) may not import {target} ({_layer(target)[0]})")
            if target != name:
                graph.setdefault(name, set()).add(target)
    for comp in _cycles(graph):
        problems.append("import cycle between " + ", ".join(comp))
    top_files = sorted(p.name for p in (root / PACKAGE).glob("*.py"))
    if len(top_files) > MAX_TOP_FILES:
        problems.append(f"{len(top_files)} .py files at the top of {PACKAGE}/ (at most {MAX_TOP_FILES}): {top_files}")
    for stage in sorted(p.parent.name for p in (root / PACKAGE).glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse((root / PACKAGE / stage / "__init__.py").read_text())) or ""
        if "may import" not in doc.lower():
            problems.append(f"{PACKAGE}/{stage}/__init__.py: the docstring must say what it owns and what it may import")
    return problems


def test_the_package_follows_the_layout():
    assert layout_problems(REPO) == []


def test_every_stage_is_a_subpackage_and_the_top_holds_only_commands_and_helpers():
    top = {p.stem for p in (REPO / PACKAGE).glob("*.py")}
    assert top <= COMMANDS | HELPERS | {"__init__"}, sorted(top - COMMANDS - HELPERS)
    stages = {p.parent.name for p in (REPO / PACKAGE).glob("*/__init__.py")}
    assert stages == set(STAGES)


def test_quant_reexports_its_model():
    import spvit_fpga.quant as quant
    from spvit_fpga.quant import model

    assert quant.QuantSPViT is model.QuantSPViT and set(quant.__all__) == set(model.__all__)


def _fake_package(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / PACKAGE / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return root


DOC = '"""A stage. May import: the helpers."""\n'


def test_the_checker_catches_a_cycle_an_upward_import_and_hls_importing_rtl(tmp_path):
    root = _fake_package(tmp_path, {
        "__init__.py": "",
        "errors.py": "",
        "nn/__init__.py": DOC,
        # the checkpoint <-> quant cycle this layout removed: a local import inside a method
        "nn/checkpoint.py": """
            from ..errors import UserError

            def build_model():
                from ..quant.model import QuantSPViT
            """,
        "quant/__init__.py": DOC,
        "quant/model.py": "from ..nn import checkpoint\n",
        "hls/__init__.py": DOC,
        "hls/plan.py": "from spvit_fpga.rtl import generator\n",
        "rtl/__init__.py": '"""No rule here."""\n',
        "rtl/generator.py": "import rtl_sim.runner\n",
    })
    problems = "\n".join(layout_problems(root))
    assert "spvit_fpga.nn.checkpoint (nn) may not import spvit_fpga.quant.model (quant)" in problems
    assert "import cycle between spvit_fpga.nn.checkpoint, spvit_fpga.quant.model" in problems
    assert "spvit_fpga.hls.plan (hls) may not import spvit_fpga.rtl.generator (rtl)" in problems
    assert "imports rtl_sim.runner" in problems
    assert "spvit_fpga/rtl/__init__.py: the docstring must say" in problems


def test_the_checker_limits_the_top_of_the_package(tmp_path):
    files = {"__init__.py": "", **{f"{name}.py": "" for name in sorted(COMMANDS | HELPERS)}, "extra.py": "",
             "misc/__init__.py": DOC}
    problems = layout_problems(_fake_package(tmp_path, files))
    assert "spvit_fpga.extra belongs to no stage: put it in a subpackage, or make it a command or helper" in problems
    assert "spvit_fpga.misc belongs to no stage: put it in a subpackage, or make it a command or helper" in problems
    assert any(p.startswith(f"{len(files) - 1} .py files at the top of spvit_fpga/ (at most 12)") for p in problems)


def test_the_checker_sees_every_module_and_import():
    """Guard against a checker that passes because it looks at nothing."""
    mods = _modules(REPO)
    edges = [(n, t) for n, (p, pkg) in mods.items() for _, t in _imports(n, p, pkg, set(mods)) if t.startswith(PACKAGE)]
    assert len(mods) > 60 and len(edges) > 150
    assert ("spvit_fpga.quant.model", "spvit_fpga.nn.checkpoint") in edges  # relative, at the top
    assert ("spvit_fpga.rtl.sim", "spvit_fpga.rtl.runner") in edges  # `from . import runner`
    assert ("spvit_fpga.evaluate", "spvit_fpga.quant.model") in edges  # inside a function
