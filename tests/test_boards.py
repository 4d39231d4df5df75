"""Board data files: the table of ARCHITECTURE.md section 7, validation and errors."""
import json

import pytest

from spvit_fpga.errors import UserError
from spvit_fpga.hw.boards import board_names, load_board

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
