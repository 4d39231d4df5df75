"""Board data files: the table of ARCHITECTURE.md section 7, validation and errors."""
import json
import re
from pathlib import Path

import pytest

from spvit_fpga.errors import UserError
from spvit_fpga.hw.boards import board_names, board_problems, load_board

# part, LUT, FF, BRAM18, URAM, DSP as given in the design notes (FINN/hls4ml tables, data sheets)
EXPECTED = {
    "zcu102": ("xczu9eg-ffvb1156-2-e", 274080, 548160, 1824, 0, 2520),
    "zcu104": ("xczu7ev-ffvc1156-2-e", 230400, 460800, 624, 96, 1728),
    "ultra96v2": ("xczu3eg-sbva484-1-e", 70560, 141120, 432, 0, 360),
    "kv260": ("xck26-sfvc784-2LV-c", 117120, 234240, 288, 64, 1248),
    "pynq-z2": ("xc7z020clg400-1", 53200, 106400, 280, 0, 220),
    "alveo-u250": ("xcu250-figd2104-2L-e", 1728000, 3456000, 5376, 1280, 12288),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_board_facts(name):
    b = load_board(name)
    r = b.resources
    assert (b.part, r["lut"], r["ff"], r["bram18"], r["uram"], r["dsp"]) == EXPECTED[name]
    assert b.clock_mhz > 0 and b.memory["peak_gbytes_per_s"] > 0


def test_all_boards_listed():
    assert set(EXPECTED) <= set(board_names())


def test_unknown_board_lists_known_ones():
    with pytest.raises(UserError) as exc:
        load_board("zcu999")
    assert "unknown board 'zcu999'" in str(exc.value) and "zcu102" in str(exc.value)


def test_malformed_board_files(tmp_path, monkeypatch):
    monkeypatch.setenv("SPVIT_BOARDS_DIR", str(tmp_path))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        load_board("bad")
    good = json.loads(open(load_board.__globals__["Path"](__file__).parents[1] / "boards" / "zcu102.json").read())
    del good["resources"]["dsp"]
    good["name"] = "nodsp"
    (tmp_path / "nodsp.json").write_text(json.dumps(good))
    with pytest.raises(UserError, match="dsp"):
        load_board("nodsp")


REPO = Path(__file__).resolve().parents[1]


def _doc_board() -> dict:
    """The complete board file docs/boards.md shows under "Adding a board" (the first JSON block)."""
    text = (REPO / "docs" / "boards.md").read_text()
    block = re.search(r"```json\n(.*?)```", text, re.S)
    assert block, "docs/boards.md lost its example board file"
    return json.loads(block.group(1))


def test_every_shipped_board_follows_the_schema():
    for name in board_names():
        assert board_problems(json.loads((REPO / "boards" / f"{name}.json").read_text())) == [], name


def test_add_a_board_by_path_as_the_docs_show(tmp_path, capsys):
    """The docs' example board, given by path: loaded, and the generator estimates for it."""
    path = tmp_path / "anything.json"
    path.write_text(json.dumps(_doc_board()))
    board = load_board(str(path))
    assert (board.name, board.part, board.clock_mhz, board.resources["dsp"]) == (
        "k26-200mhz", "xck26-sfvc784-2LV-c", 200.0, 1248)
    from spvit_fpga import generate

    assert generate.main(["--board", str(path), "--model", "micro", "--estimate"]) == 0
    assert "micro on k26-200mhz (xck26-sfvc784-2LV-c, 200 MHz)" in capsys.readouterr().out


@pytest.mark.parametrize("edit, field", [
    (lambda d: d["resources"].update(dsp=-1), "resources.dsp: -1 is less than the minimum of 1"),
    (lambda d: d["memory"].pop("ports"), "memory: 'ports' is a required property"),
    (lambda d: d.update(clock_Mhz=250), "(top level): Additional properties are not allowed ('clock_Mhz'"),
    (lambda d: d.update(family="versal"), "family: 'versal' is not one of"),
    (lambda d: d["memory"].update(ports=["HP0", 7]), "memory.ports[1]: 7 is not of type 'string'"),
    (lambda d: d.update(clock_mhz="300"), "clock_mhz: '300' is not of type 'number'"),
])
def test_a_refused_board_names_the_field_and_leaves_no_output(tmp_path, edit, field):
    from spvit_fpga import generate

    d = _doc_board()
    edit(d)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(d))
    out = tmp_path / "out"
    with pytest.raises(UserError) as info:
        generate.main(["--board", str(path), "--out", str(out)])
    assert field in str(info.value) and str(path) in str(info.value)
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]


def test_board_path_that_does_not_exist(tmp_path):
    with pytest.raises(UserError, match="does not exist; give a board name"):
        load_board(str(tmp_path / "nope.json"))
