"""A design-rule check of a generated HLS project: the properties Vitis HLS needs to build the
design at the speed the estimates assume, checked on the generated C++ and on the plan.

It approximates Vitis HLS and does not replace it: it reads the sources with a light scanner (loops,
pragmas, declarations; not a C++ front end) and the units' declared accesses
(:mod:`spvit_fpga.hls.kernels`), and proves nothing a csynth report would not show better.  It runs
in every ``generate`` (manifest ``hls.drc``; a failed rule makes the command exit 1 after writing
the project) and in the tests, each rule also on a bad input.  The rules:

``axi_ports``         every ``m_axi`` port of the top is ``ap_uint<W>`` (directly or through a
                      typedef/using) with W at least the board's HP port width, bursts of 256
                      beats, at least 2 reads outstanding
``burst_loops``       a loop that reads a pointer argument (an m_axi port) is pipelined, has a
                      compile-time trip count, indexes the pointer with the loop counter (contiguous)
                      and reads it unconditionally
``partition_limit``   no ``array_partition`` gives more than 1 024 ways
``array_ports``       no array is read or written more times an iteration of a pipelined loop than
                      its partitions x ports allow, no stream more than once (declared accesses; the
                      partitions as the pragmas of the sources give them, which must reach the
                      declared ones); every declared loop exists in the sources
``dsp_budget``        the multipliers of the II = 1 loops (after unrolling, in DSP48 slices) fit the
                      board's DSPs
``loop_tripcount``    every loop with a run-time bound has ``loop_tripcount``; unrolled loops have
                      compile-time bounds
``disjoint_access``   no instruction of the program reads activation-bank words it writes (what
                      the units' ``dependence ... inter false`` pragmas rely on)
"""
from __future__ import annotations

import ast
import math
import operator
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional

from ..hw.boards import Board
from ..hw.overlay.program import (Concat, Gemm, HeadMean, LayerNorm, Select, Softmax, TokenMean)
from .kernels import declared_arrays, declared_loops, dsp_of
from .plan import HlsPlan

__all__ = ["RuleResult", "DrcResult", "run_drc", "RULES", "NOTE", "PARTITION_LIMIT", "scan_loops"]

PARTITION_LIMIT = 1024
NOTE = ("a design-rule check of the generated C++ and the plan by spvit_fpga: it approximates Vitis HLS "
        "(light source scanner, declared accesses) and does not replace a csynth run")


@dataclass
class RuleResult:
    rule: str
    passed: bool
    checked: int
    failures: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "passed": self.passed, "checked": self.checked, "failures": self.failures[:20]}


@dataclass
class DrcResult:
    rules: list[RuleResult]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rules)

    @property
    def failed(self) -> list[str]:
        return [r.rule for r in self.rules if not r.passed]

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "note": NOTE, "rules": [r.to_json() for r in self.rules]}


# --------------------------------------------------------------------------------------------
# source scanning
# --------------------------------------------------------------------------------------------


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def _match(text: str, i: int, open_c: str, close_c: str) -> int:
    """Index just past the bracket that closes the one at ``text[i]``."""
    depth = 0
    for k in range(i, len(text)):
        if text[k] == open_c:
            depth += 1
        elif text[k] == close_c:
            depth -= 1
            if depth == 0:
                return k + 1
    raise ValueError("unbalanced brackets")


@dataclass
class Loop:
    file: str
    label: str
    var: str
    bound: str
    body: str
    pragmas: list[str]
    function: str

    @property
    def pipelined(self) -> bool:
        return any("HLS pipeline" in p for p in self.pragmas)

    @property
    def unrolled(self) -> bool:
        return any("HLS unroll" in p for p in self.pragmas)

    @property
    def has_tripcount(self) -> bool:
        return any("loop_tripcount" in p for p in self.pragmas)


_CONST_TOKEN = re.compile(r"^(?:\d+|[A-Z][A-Z0-9_]*|(?:\w+(?:<\w+>)?::)+[A-Z][A-Z0-9_]*)$")


def _constant_expr(expr: str) -> bool:
    """An expression of literals and compile-time names (ALL_CAPS, C::NAME, T::NAME)."""
    tokens = re.findall(r"(?:\w+(?:<\w+>)?::)*\w+", expr)
    return all(_CONST_TOKEN.match(t) for t in tokens)


def _functions(text: str) -> list[tuple[str, int, int, str]]:
    """(name, body start, body end, parameter list) of the function definitions of a source."""
    out = []
    for m in re.finditer(r"\b(\w+)\s*\(", text):
        name = m.group(1)
        if name in ("for", "if", "while", "switch", "return", "sizeof", "static_assert") or name.startswith("HLS"):
            continue
        try:
            pe = _match(text, m.end() - 1, "(", ")")
        except ValueError:
            continue
        rest = text[pe:pe + 200]
        mm = re.match(r"\s*(?:const\s*)?\{", rest)
        if not mm:
            continue
        # a definition: the name follows a type, not an operator / statement
        before = text[max(0, m.start() - 80):m.start()]
        if re.search(r"[=;,(]\s*$", before) and not re.search(r"(void|>|\w)\s+$", before):
            continue
        bs = pe + mm.end() - 1
        be = _match(text, bs, "{", "}")
        out.append((name, bs, be, text[m.end():pe - 1]))
    return out


def scan_loops(files: dict[str, str]) -> list[Loop]:
    """Every ``for`` loop of the C++ sources (path -> text, comments stripped)."""
    loops = []
    for path, text in files.items():
        funcs = _functions(text)
        for m in re.finditer(r"\bfor\s*\(", text):
            he = _match(text, m.end() - 1, "(", ")")
            header = text[m.end():he - 1]
            parts = header.split(";")
            if len(parts) != 3:
                continue
            var = re.sub(r".*?\b(\w+)\s*=.*", r"\1", parts[0].strip(), flags=re.S)
            cond = parts[1].strip()
            bound = re.sub(rf"^\s*{re.escape(var)}\s*<=?\s*", "", cond)
            brace = re.match(r"\s*\{", text[he:])
            if not brace:
                continue
            bs = he + brace.end() - 1
            be = _match(text, bs, "{", "}")
            body = text[bs + 1:be - 1]
            pragmas = []
            for line in body.lstrip("\n").split("\n"):
                s = line.strip()
                if not s:
                    continue
                if s.startswith("#"):
                    pragmas.append(s)
                    continue
                break
            prev = text[:m.start()].rstrip().split("\n")[-1].strip()
            label = prev[:-1] if re.match(r"^\w+:$", prev) else ""
            func = next((f for f, s0, e0, _ in funcs if s0 < m.start() < e0), "")
            loops.append(Loop(path, label, var, bound, body, pragmas, func))
    return loops


_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.floordiv,
        ast.FloorDiv: operator.floordiv, ast.LShift: operator.lshift}


def _eval(expr: str, consts: dict[str, int]) -> Optional[int]:
    """Value of a dimension expression (literals, C::NAME, + - * / <<), or None."""
    e = re.sub(r"\b\w+::", "", expr.strip())
    try:
        tree = ast.parse(e, mode="eval").body
    except SyntaxError:
        return None

    def ev(n: ast.AST) -> int:
        if isinstance(n, ast.Constant) and isinstance(n.value, int):
            return n.value
        if isinstance(n, ast.Name) and n.id in consts:
            return int(consts[n.id])
        if isinstance(n, ast.BinOp) and type(n.op) in _OPS:
            return _OPS[type(n.op)](ev(n.left), ev(n.right))
        raise ValueError(expr)

    try:
        return ev(tree)
    except (ValueError, ZeroDivisionError):
        return None


def _partitions(files: dict[str, str], consts: dict[str, int]) -> tuple[dict[str, int], list[str]]:
    """Ways of every partitioned array (product over its pragmas) and the pragmas it cannot size."""
    ways: dict[str, int] = {}
    unsized = []
    for path, text in files.items():
        for m in re.finditer(r"#pragma\s+HLS\s+array_partition\s+([^\n]*)", text, flags=re.I):
            args = m.group(1)
            v = re.search(r"variable\s*=\s*(\w+)", args)
            if not v:
                continue
            name = v.group(1)
            dim_m = re.search(r"dim\s*=\s*(\d+)", args)
            dim = int(dim_m.group(1)) if dim_m else 1
            fac = re.search(r"factor\s*=\s*([\w:]+)", args)
            if fac and "complete" not in args:
                n = _eval(fac.group(1), consts)
            else:
                decl = re.search(rf"\b{name}\s*((?:\[[^\]]+\])+)\s*[;,)=]", text)
                if not decl:
                    unsized.append(f"{path}: {name}")
                    continue
                dims = [_eval(d, consts) for d in re.findall(r"\[([^\]]+)\]", decl.group(1))]
                if any(d is None for d in dims):
                    unsized.append(f"{path}: {name}")
                    continue
                n = math.prod(dims) if dim == 0 else (dims[dim - 1] if dim <= len(dims) else None)
            if n is None:
                unsized.append(f"{path}: {name}")
                continue
            ways[name] = ways.get(name, 1) * int(n)
    return ways, unsized


# --------------------------------------------------------------------------------------------
# rules
# --------------------------------------------------------------------------------------------


def _rule_axi_ports(files: dict[str, str], board: Board) -> RuleResult:
    want = int((board.memory or {}).get("port_width_bits") or 64)
    fails, checked = [], 0
    text = "\n".join(files.values())
    ports = sorted(set(re.findall(r"#pragma\s+HLS\s+interface\s+m_axi\s+port\s*=\s*(\w+)([^\n]*)", text)))
    if not ports:
        fails.append("the top function has no m_axi port")
    alias = {name: t for t, name in re.findall(r"typedef\s+(ap_u?int\s*<\s*\d+\s*>)\s+(\w+)\s*;", text)}
    alias.update({name: t for name, t in re.findall(r"using\s+(\w+)\s*=\s*(ap_u?int\s*<\s*\d+\s*>)\s*;", text)})
    seen = set()
    for port, opts in ports:
        if port in seen:
            continue
        seen.add(port)
        checked += 1
        sig = re.search(rf"(?:const\s+)?([\w:<>\s]+?)\s*\*\s*{port}\b", text)
        if not sig:
            fails.append(f"{port}: no pointer argument of that name")
            continue
        t = re.sub(r"^const\s+", "", sig.group(1).strip())
        t = alias.get(t, t)
        w = re.match(r"ap_u?int\s*<\s*(\d+)\s*>", t)
        if not w:
            fails.append(f"{port}: type {t} is not ap_uint<W>")
        elif int(w.group(1)) < want:
            fails.append(f"{port}: {w.group(0)} is narrower than the {want}-bit HP port of {board.name}")
        opt = {k: v for k, v in re.findall(r"(\w+)\s*=\s*(\w+)", opts)}
        if opt.get("max_read_burst_length") != "256":
            fails.append(f"{port}: max_read_burst_length {opt.get('max_read_burst_length')} (256 wanted)")
        if int(opt.get("num_read_outstanding", "1")) < 2:
            fails.append(f"{port}: {opt.get('num_read_outstanding', 'default')} reads outstanding (at least 2)")
    return RuleResult("axi_ports", not fails, checked, fails)


def _rule_burst_loops(files: dict[str, str], loops: list[Loop]) -> RuleResult:
    fails, checked = [], 0
    for path, text in files.items():
        for fname, bs, be, params in _functions(text):
            ptrs = re.findall(r"\*\s*(\w+)\s*(?:,|$)", params)
            if not ptrs:
                continue
            for lp in (x for x in loops if x.file == path and x.function == fname):
                for p in ptrs:
                    uses = re.findall(rf"\b{p}\s*\[([^\]]*)\]", lp.body)
                    if not uses:
                        continue
                    checked += 1
                    where = f"{path}: {fname}/{lp.label or lp.var} reads {p}"
                    if not lp.pipelined:
                        fails.append(f"{where} in a loop that is not pipelined")
                    if not _constant_expr(lp.bound):
                        fails.append(f"{where}: run-time trip count {lp.bound!r}")
                    for idx in uses:
                        if not re.fullmatch(rf"\s*{lp.var}\s*(?:\+\s*[A-Z0-9_:]+\s*)?", idx):
                            fails.append(f"{where}[{idx.strip()}]: not contiguous (the loop counter {lp.var} wanted)")
                    body = lp.body
                    k = re.search(rf"\b{p}\s*\[", body).start()
                    head = body[:k]
                    if re.search(r"\bif\s*\(|\?|\belse\b|\bbreak\b", head) or head.count("{") > head.count("}"):
                        fails.append(f"{where}: the read is conditional")
    return RuleResult("burst_loops", not fails and checked > 0, checked,
                      fails or ([] if checked else ["no loop reads an m_axi port"]))


def _rule_partition_limit(ways: dict[str, int], unsized: list[str]) -> RuleResult:
    fails = [f"{n}: {w} ways (at most {PARTITION_LIMIT})" for n, w in sorted(ways.items()) if w > PARTITION_LIMIT]
    fails += [f"{u}: cannot size the partitioned array" for u in unsized]
    return RuleResult("partition_limit", not fails, len(ways), fails)


def _rule_array_ports(plan: HlsPlan, loops: list[Loop], ways: dict[str, int]) -> RuleResult:
    arrays = {a.name: a for a in declared_arrays(plan)}
    labels = {(lp.label) for lp in loops if lp.pipelined}
    fails, checked = [], 0
    for a in arrays.values():  # the partitions the units rely on must be in the sources
        if a.ways > 1 and ways.get(a.name, 1) < a.ways:
            fails.append(f"{a.name}: {ways.get(a.name, 1)} partition(s) in the sources, {a.ways} declared")
    for d in declared_loops(plan):
        if d.loop not in labels:
            fails.append(f"{d.unit}/{d.loop}: declared, but no pipelined loop of that name in the sources")
            continue
        for kind, acc in (("read", d.reads), ("write", d.writes)):
            for name, n in acc.items():
                checked += 1
                a = arrays.get(name)
                if a is None:  # a stream: one access an iteration
                    if n > 1:
                        fails.append(f"{d.unit}/{d.loop}: stream {name} {kind} {n} times an iteration")
                    continue
                if a.ports == 0:
                    continue
                w = ways.get(name, 1)
                total = n + (d.writes.get(name, 0) if kind == "read" else 0)
                cap = w * a.ports
                if kind == "read" and total > cap or kind == "write" and n > cap:
                    fails.append(f"{d.unit}/{d.loop}: {name} {total if kind == 'read' else n} accesses an iteration, "
                                 f"{w} partition(s) x {a.ports} port(s)")
    return RuleResult("array_ports", not fails, checked, fails)


def _rule_dsp(plan: HlsPlan, board: Board) -> RuleResult:
    total, parts = 0, []
    for d in declared_loops(plan):
        n = sum(cnt * dsp_of(a, b) for cnt, a, b in d.mults)
        if n:
            parts.append(f"{d.unit}/{d.loop} {n}")
            total += n
    have = board.resources["dsp"]
    fails = [] if total <= have else [f"{total} DSP48 in II = 1 loops ({', '.join(parts)}); {board.name} has {have}"]
    return RuleResult("dsp_budget", not fails, total, fails)


def _rule_tripcount(loops: list[Loop]) -> RuleResult:
    fails, checked = [], 0
    for lp in loops:
        const = _constant_expr(lp.bound)
        name = f"{lp.file}: {lp.function}/{lp.label or lp.var}"
        if lp.unrolled:
            checked += 1
            if not const:
                fails.append(f"{name}: unrolled with a run-time bound {lp.bound!r}")
            continue
        if not const:
            checked += 1
            if not lp.has_tripcount:
                fails.append(f"{name}: run-time bound {lp.bound!r} without loop_tripcount")
    return RuleResult("loop_tripcount", not fails, checked, fails)


def _words(prog, name: str, row0: int, rows: int, col0: int, cols: int) -> tuple[int, int, int]:
    """(bank, first word, last word + 1) of a tensor region."""
    t = prog.tensors[name]
    L = prog.cfg.lanes
    lo = t.base + row0 * t.stride + col0 // L
    hi = t.base + (row0 + max(rows, 1) - 1) * t.stride + (col0 + max(cols, 1) - 1) // L + 1
    return t.bank, lo, hi


def _rule_disjoint(plan: HlsPlan) -> RuleResult:
    prog = plan.program
    mx = {"T": prog.t_max, "N": prog.n_max}
    fails, checked = [], 0
    for ins in prog.instructions:
        reads, writes = [], []
        if isinstance(ins, Gemm):
            r, k, n = ins.rows.max(mx), ins.k_in.max(mx), ins.n_out.max(mx)
            reads.append(_words(prog, ins.act, ins.act_row0, r, ins.act_col0, k))
            if ins.w_src == "am":
                reads.append(_words(prog, ins.w_tensor, ins.w_row0, n, ins.w_col0, k))
            if ins.dst_kind == "am":
                writes.append(_words(prog, ins.dst, ins.dst_row0, r, ins.dst_col0, n))
            elif ins.dst_kind == "am_t":
                writes.append(_words(prog, ins.dst, ins.dst_col0, n, ins.dst_row0, r))
        elif isinstance(ins, LayerNorm):
            writes.append(_words(prog, ins.dst, 0, ins.rows.max(mx) * ins.heads, 0, ins.channels))
        elif isinstance(ins, Softmax):
            r, n = ins.rows.max(mx), ins.length.max(mx)
            reads.append(_words(prog, ins.src, 0, r, 0, n))
            writes.append(_words(prog, ins.dst, 0, r, 0, n))
        elif isinstance(ins, HeadMean):
            writes.append(_words(prog, ins.dst, 0, prog.n_max, 0, ins.heads))
        elif isinstance(ins, TokenMean):
            reads.append(_words(prog, ins.src, 0, prog.n_max * ins.heads, 0, 2 * ins.half))
            writes.append(_words(prog, ins.dst, 0, ins.heads, 0, ins.half))
        elif isinstance(ins, Concat):
            reads.append(_words(prog, ins.src, 0, prog.n_max * ins.heads, 0, 2 * ins.half))
            reads.append(_words(prog, ins.glob, 0, ins.heads, 0, ins.half))
            writes.append(_words(prog, ins.dst, 0, prog.n_max * ins.heads, 0, 2 * ins.half))
        elif isinstance(ins, Select):
            reads.append(_words(prog, ins.w_tensor, 0, prog.n_max, 0, ins.heads))
            reads.append(_words(prog, ins.d_tensor, 0, prog.n_max * ins.heads, 0, 1))
        for rb, rlo, rhi in reads:
            for wb, wlo, whi in writes:
                checked += 1
                if rb == wb and rlo < whi and wlo < rhi:
                    fails.append(f"{ins.name}: reads bank {rb} words {rlo}..{rhi - 1} and writes {wlo}..{whi - 1}")
    return RuleResult("disjoint_access", not fails, checked, fails)


RULES = ("axi_ports", "burst_loops", "partition_limit", "array_ports", "dsp_budget", "loop_tripcount",
         "disjoint_access")


def _sources(files: dict[str, bytes]) -> dict[str, str]:
    return {p: _strip_comments(d.decode()) for p, d in sorted(files.items())
            if (p.startswith("src/") or p.startswith("hls/")) and p.endswith((".h", ".cpp")) and "spvit_tb_io" not in p}


def run_drc(files: dict[str, bytes], plan: HlsPlan, board: Optional[Board] = None) -> DrcResult:
    """Every rule on the project's sources (``files``: path -> bytes, as written) and ``plan``;
    ``board`` defaults to the plan's."""
    board = board or plan.board
    src = _sources(files)
    loops = scan_loops(src)
    ways, unsized = _partitions(src, {**plan.consts})
    return DrcResult([
        _rule_axi_ports(src, board),
        _rule_burst_loops(src, loops),
        _rule_partition_limit(ways, unsized),
        _rule_array_ports(plan, loops, ways),
        _rule_dsp(plan, board),
        _rule_tripcount(loops),
        _rule_disjoint(plan),
    ])
