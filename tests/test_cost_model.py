"""Cost model: parallelism per board, monotonic latency in kept tokens, fit checks."""
import pytest

from spvit_fpga.errors import UserError
from spvit_fpga.hw.boards import load_board
from spvit_fpga.hw.cost_model import check_fit, choose_parallelism, latency_ms, layer_costs, total_cycles
from spvit_fpga.nn.config import ModelConfig, model_config
from spvit_fpga.nn.macs import model_macs


@pytest.mark.parametrize("board", ["zcu102", "zcu104", "ultra96v2", "kv260", "pynq-z2", "alveo-u250"])
def test_parallelism_fits_board_dsps(board):
    b = load_board(board)
    for m in ("micro", "deit-tiny", "deit-small"):
        cfg = model_config(m)
        par = choose_parallelism(cfg, b)
        assert par.pe * par.simd / b.int8_macs_per_dsp <= 0.85 * b.resources["dsp"]
        assert cfg.head_dim % par.simd == 0 and cfg.embed_dim % par.pe == 0


def test_zcu102_uses_most_dsps_for_deit_small():
    b = load_board("zcu102")
    par = choose_parallelism(model_config("deit-small"), b)
    assert par.pe * par.simd / 2 >= 0.75 * b.resources["dsp"]


def test_cycles_grow_with_kept_tokens():
    cfg, b = model_config("deit-small"), load_board("zcu102")
    par = choose_parallelism(cfg, b)
    prev = 0
    for k in (0, 20, 60, 120, 196):
        c = total_cycles(layer_costs(cfg, b, par, [k, k, k]))
        assert c > prev
        prev = c


def test_gemm_macs_match_mac_counter_for_backbone():
    cfg, b = model_config("micro"), load_board("zcu102")
    kept = [40, 30, 20]
    costs = layer_costs(cfg, b, choose_parallelism(cfg, b), kept)
    counted = sum(x.macs for x in costs if x.kind in ("gemm", "attention"))
    selector_free = model_macs(cfg, kept)
    # The MAC counter adds the selector MACs; the cost model books them under "selector".
    sel = sum(x.macs for x in costs if x.kind == "selector")
    assert counted + sel <= selector_free and counted > 0.9 * selector_free


def test_pruned_deit_small_beats_heatvit_estimate():
    cfg, b = model_config("deit-small"), load_board("zcu102")
    par = choose_parallelism(cfg, b)
    kept = [r * cfg.num_patches for r in cfg.keep_ratios]
    assert latency_ms(layer_costs(cfg, b, par, kept), b) < 9.15


def test_model_that_does_not_fit_names_the_numbers():
    big = ModelConfig("huge", 224, 16, 3, 1000, 1024, 24, 16, mlp_ratio=8.0)
    b = load_board("pynq-z2")
    with pytest.raises(UserError) as exc:
        check_fit(big, b, choose_parallelism(big, b))
    assert "bram18: needs" in str(exc.value) and "pynq-z2" in str(exc.value)
