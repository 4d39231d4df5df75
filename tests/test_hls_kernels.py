"""Kernel-level C-simulation of the HLS library (hls/*.h), bit-exact against spvit_fpga.ir.intops.

The overlay engine's units are checked end to end through generated projects (tests/test_generate.py:
every instruction kind, on several engine geometries, against the golden reference); here are the
arithmetic pieces they are built from, each on random and edge-case inputs with ``assert_array_equal``
(no tolerance), through C++ drivers in tests/hls_drivers/ compiled once per session (cached by content
hash in the build directory of :mod:`spvit_fpga.hls.gxx`).  A missing g++ or ap_types makes these
tests fail with the UserError that names the fix; they are never skipped.

  requant   requantize (int32/int48/uint20 accumulators -> int8/int16/int32/uint8) with shifts
            -30..62 incl. exact ties and range extremes, round_shift with left shifts, rounded
            division (signed/unsigned, ties, extremes), scaled division (2^+-3), the units' run-time
            requantiser (48-bit values, run-time shift and output format) and run-time scaled
            division, the constexpr width helpers vs intops
  ov_pack   the packed-DSP pair products of the GEMM unit over every int8 (w1, w2, a) triple with
            int8 and uint8 activations, 9-bit weights at the extremes, both PACK paths, and the
            longest (L = 64) adder tree of worst-case products
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal

from spvit_fpga._resources import hls_library_dir
from spvit_fpga.hls import gxx
from spvit_fpga.ir import intops
from spvit_fpga.ir.intops import FixedFormat, prob_format

DRIVERS = Path(__file__).resolve().parent / "hls_drivers"
KERNELS = ("requant", "ov_pack")

U8P = prob_format(8)


@pytest.fixture(scope="session")
def binaries() -> dict[str, Path]:
    paths = gxx.compile_many([DRIVERS / f"{k}_tb.cpp" for k in KERNELS], jobs=2)
    return dict(zip(KERNELS, paths))


def T(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, dtype=np.int64))


def N(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.int64)


def rint(rng: np.random.Generator, lo: int, hi: int, shape) -> np.ndarray:
    """Uniform integers in [lo, hi] (inclusive)."""
    return rng.integers(lo, hi, size=shape, endpoint=True, dtype=np.int64)


def fmt_rand(rng: np.random.Generator, fmt: FixedFormat, shape) -> np.ndarray:
    return rint(rng, fmt.min_int, fmt.max_int, shape)


def log_uniform_ints(rng: np.random.Generator, bits: int, n: int) -> np.ndarray:
    """Signed integers whose magnitudes are spread over 0 .. 2^(bits-1) on a log scale."""
    mags = rng.integers(0, bits - 1, size=n, endpoint=True)
    vals = np.array([int(rng.integers(0, 1 << int(m), endpoint=False)) if m else 0 for m in mags], dtype=np.int64)
    signs = rng.choice([-1, 1], size=n)
    v = vals * signs
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return np.clip(v, lo, hi)


def ties_and_edges(rng: np.random.Generator, bits: int, max_shift: int, n: int):
    """(x, s) pairs that are exact rounding ties x = (q + 1/2) 2^s, plus range extremes."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    s = rng.integers(1, max_shift, size=n, endpoint=True)
    xs, ss = [], []
    for sh in s:
        sh = int(sh)
        qmax = max(1, (hi >> sh) - 1)
        q = int(rng.integers(-qmax, qmax, endpoint=True))
        x = q * (1 << sh) + (1 << (sh - 1))
        if lo <= x <= hi:
            xs.append(x)
            ss.append(sh)
    for x in (lo, lo + 1, -1, 0, 1, hi - 1, hi, lo // 2, hi // 2 + 1):
        for sh in (0, 1, 2, bits - 2, bits - 1, bits, bits + 1, 62):
            xs.append(x)
            ss.append(sh)
    return np.array(xs, dtype=np.int64), np.array(ss, dtype=np.int64)


# ----------------------------------------------------------------------------------------------
# requantisation, rounding division, residual add, width helpers
# ----------------------------------------------------------------------------------------------


def test_requant_div_widths(binaries):
    rng = np.random.default_rng(1)
    # 32-bit accumulators: random magnitudes and shifts -30..62, exact ties, extremes
    x_r = log_uniform_ints(rng, 32, 3000)
    s_r = rint(rng, -30, 62, 3000)
    x_t, s_t = ties_and_edges(rng, 32, 30, 1500)
    x32 = np.concatenate([x_r, x_t, [-(2**31), 2**31 - 1, 5, -5]])
    s32 = np.concatenate([s_r, s_t, [-30, -30, -1, -1]])
    # 48-bit accumulators (shifts -14..62)
    x48_r = log_uniform_ints(rng, 48, 1500)
    s48_r = rint(rng, -14, 62, 1500)
    x48_t, s48_t = ties_and_edges(rng, 48, 46, 800)
    x48 = np.concatenate([x48_r, x48_t])
    s48 = np.concatenate([s48_r, np.minimum(s48_t, 62)])
    # unsigned 20-bit accumulators
    xu20 = np.concatenate([rint(rng, 0, 2**20 - 1, 800), [0, 1, 2**20 - 1, 2**19]])
    su20 = np.concatenate([rint(rng, -10, 30, 800), [0, 0, 0, 12]])
    # rounded division: signed 40-bit / unsigned 24-bit (ties included), unsigned 32 / 12
    d = rint(rng, 1, 2**24 - 1, 1500)
    d[:300] = rint(rng, 1, 16, 300)
    n = log_uniform_ints(rng, 40, 1500)
    tie_d = 2 * rint(rng, 1, 2**20, 300)
    tie_n = (2 * rint(rng, -(2**17), 2**17, 300) + 1) * (tie_d // 2)
    div_n = np.concatenate([n, tie_n, [-(2**39), 2**39 - 1, -(2**39), 0, 1, -1]])
    div_d = np.concatenate([d, tie_d, [1, 1, 2**24 - 1, 3, 2, 2]])
    udiv_n = np.concatenate([rint(rng, 0, 2**32 - 1, 800), [0, 2**32 - 1, 2**32 - 1, 3, 5]])
    udiv_d = np.concatenate([rint(rng, 1, 2**12 - 1, 800), [7, 1, 2**12 - 1, 2, 2]])
    sdiv_n = np.concatenate([rint(rng, -(2**23), 2**23 - 1, 600), [-(2**23), 2**23 - 1, 4, -4, 12, -12]])
    sdiv_d = np.concatenate([rint(rng, 1, 1023, 600), [1, 1, 8, 8, 64, 64]])
    # run-time requantiser: 48-bit values, shifts -12..50, formats 1..32 bits signed / unsigned
    rt_x = np.concatenate([log_uniform_ints(rng, 48, 3000), [-(2**47), 2**47 - 1, 0, 1, -1]])
    rt_s = np.concatenate([rint(rng, -12, 50, 3000), [0, -12, 3, 1, 50]])
    rt_bits = rint(rng, 2, 32, rt_x.size)
    rt_sgn = rint(rng, 0, 1, rt_x.size)
    t_x, t_s = ties_and_edges(rng, 48, 40, 600)
    rt_x, rt_s = np.concatenate([rt_x, t_x]), np.concatenate([rt_s, np.minimum(t_s, 50)])
    rt_bits = np.concatenate([rt_bits, rint(rng, 2, 32, t_x.size)])
    rt_sgn = np.concatenate([rt_sgn, rint(rng, 0, 1, t_x.size)])
    rt_p = np.stack([rt_s, rt_bits, rt_sgn], axis=1)
    # run-time scaled division: up -8..8, ties
    sdrt_n = np.concatenate([log_uniform_ints(rng, 36, 1500), [0, 1, -1, 2**35 - 1, -(2**35)]])
    sdrt_d = np.concatenate([rint(rng, 1, 2**20, 1500), [1, 2, 2, 1, 3]])
    sdrt_up = np.concatenate([rint(rng, -8, 8, 1500), [0, 0, 0, -8, 0]])
    # width helpers
    acc_params = []
    for in_bits in (1, 2, 8, 10, 16):
        for w_bits in (2, 8, 9):
            for fan in (1, 3, 64, 192, 768, 3072, 2**16, 2**17):
                for bias in (0, 30, 32):
                    for sig in ((1, 1), (0, 1), (0, 0), (1, 0)):
                        if in_bits == 1 and sig[0]:
                            continue
                        acc_params.append([in_bits, w_bits, fan, bias, *sig])
    acc_params = np.array(acc_params, dtype=np.int64)
    ranges = np.array([[0, 0], [-1, 0], [0, 1], [-128, 127], [-129, 127], [-128, 128], [-(2**40), 5],
                       [3, 2**33], [-7, -3], [-(2**61), 2**61 - 1]], dtype=np.int64)

    out = gxx.run_binary(binaries["requant"], {
        "x32": x32, "s32": s32, "x48": x48, "s48": s48, "xu20": xu20, "su20": su20,
        "div_n": div_n, "div_d": div_d, "udiv_n": udiv_n, "udiv_d": udiv_d,
        "sdiv_n": sdiv_n, "sdiv_d": sdiv_d, "rt_x": rt_x, "rt_p": rt_p,
        "sdrt_n": sdrt_n, "sdrt_d": sdrt_d, "sdrt_up": sdrt_up,
        "wd_acc_params": acc_params, "wd_range": ranges,
    })

    rq = intops.requantize
    assert_array_equal(out["rq32_i8"], N(rq(T(x32), T(s32), FixedFormat(8, 0))))
    assert_array_equal(out["rq32_i16"], N(rq(T(x32), T(s32), FixedFormat(16, 0))))
    assert_array_equal(out["rq32_u8"], N(rq(T(x32), T(s32), FixedFormat(8, 0, signed=False))))
    left_ok = s32 >= -8
    assert_array_equal(out["rs32_i40"][left_ok], N(intops.round_shift(T(x32), T(s32)))[left_ok])
    assert_array_equal(out["rq48_i16"], N(rq(T(x48), T(s48), FixedFormat(16, 0))))
    assert_array_equal(out["rq48_i32"], N(rq(T(x48), T(s48), FixedFormat(32, 0))))
    assert_array_equal(out["rqu20_u8"], N(rq(T(xu20), T(su20), FixedFormat(8, 0, signed=False))))
    assert_array_equal(out["rqu20_i8"], N(rq(T(xu20), T(su20), FixedFormat(8, 0))))
    assert_array_equal(out["div_q"], N(intops.int_rounded_div(T(div_n), T(div_d))))
    assert_array_equal(out["udiv_q"], N(intops.int_rounded_div(T(udiv_n), T(udiv_d))))
    assert_array_equal(out["sdiv_up3"], N(intops.int_rounded_div(T(sdiv_n) * 8, T(sdiv_d))))
    assert_array_equal(out["sdiv_dn3"], N(intops.int_rounded_div(T(sdiv_n), T(sdiv_d) * 8)))
    ref_rt = [int(intops.requantize(T([int(x)]), int(sh), FixedFormat(int(bits), 0, signed=bool(sg)))[0])
              for x, sh, bits, sg in zip(rt_x, rt_s, rt_bits, rt_sgn)]
    assert_array_equal(out["rt_y"], ref_rt)
    ref_sd = [int(intops._scaled_div(T([int(n)]), T([int(d)]), int(u))[0]) for n, d, u in zip(sdrt_n, sdrt_d, sdrt_up)]
    assert_array_equal(out["sdrt_y"], ref_sd)
    ref_acc = [intops.accumulator_bits(int(i), int(w), int(f), int(b) or None, in_signed=bool(si), w_signed=bool(sw))
               for i, w, f, b, si, sw in acc_params]
    assert_array_equal(out["wd_acc"], ref_acc)
    assert_array_equal(out["wd_sbits"], [intops.signed_bits_for_range(int(lo), int(hi)) for lo, hi in ranges])


# ----------------------------------------------------------------------------------------------
# the packed DSP of the GEMM unit
# ----------------------------------------------------------------------------------------------


def test_packed_pair_products_exact(binaries):
    out = gxx.run_binary(binaries["ov_pack"], {})["result"]
    checked, bad2, bad1, bad_tree = (int(v) for v in out)
    assert checked >= 256 * 256 * 384  # every int8 pair with every int8 / uint8 activation
    assert (bad2, bad1, bad_tree) == (0, 0, 0)


# ----------------------------------------------------------------------------------------------
# language level, warnings, harness
# ----------------------------------------------------------------------------------------------


def test_toolchain_present():
    """g++ and the ap_types headers are required: a missing tool fails here with the fix named."""
    assert Path(gxx.gxx_path()).is_file()
    assert (gxx.ap_types_include_dir() / "ap_int.h").is_file()
    assert (hls_library_dir() / "spvit_ov_gemm.h").is_file()


def test_kernels_are_cxx11_and_warning_clean():
    """The drivers pass C++11 semantic checks (Vivado HLS 2020.x front ends) with -Wall -Wextra and
    no warning from hls/ (loop labels and HLS pragmas aside); the units instantiated by a whole
    engine get the same check in tests/test_generate.py."""
    from concurrent.futures import ThreadPoolExecutor

    flags = ["-Wall", "-Wextra", "-Wno-unknown-pragmas", "-Wno-unused-label"]
    sources = [DRIVERS / f"{k}_tb.cpp" for k in KERNELS]
    with ThreadPoolExecutor(max_workers=2) as pool:
        logs = list(pool.map(lambda s: gxx.check_syntax(s, std="c++11", extra_flags=flags), sources))
    ours = [line for log in logs for line in log.splitlines()
            if "warning" in line and str(hls_library_dir()) in line or line.startswith("hls/")]
    assert not ours, "\n".join(ours)


def test_harness_cache_run_and_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("SPVIT_FPGA_BUILD_DIR", str(tmp_path / "build"))
    src = tmp_path / "twice.cpp"
    src.write_text(
        '#include "spvit_tb_io.h"\n'
        "int main(int argc, char** argv) {\n"
        "  const std::string d = spvit_tb::io_dir(argc, argv);\n"
        '  spvit_tb::array_t v = spvit_tb::read_array(d, "x");\n'
        "  for (size_t i = 0; i < v.size(); i++) { if (v[i] == 13) return 7; v[i] *= 2; }\n"
        '  spvit_tb::write_array(d, "y", v);\n'
        "  return 0;\n}\n"
    )
    first = gxx.compile_cpp(src)
    stamp = first.stat().st_mtime_ns
    assert first.parent == tmp_path / "build"
    assert gxx.compile_cpp(src) == first and first.stat().st_mtime_ns == stamp  # cached
    x = np.array([0, -1, 2**62 - 1, -(2**62), 5])
    assert_array_equal(gxx.run_binary(first, {"x": x})["y"], x * 2)
    assert_array_equal(gxx.run_binary(first, {"x": np.zeros(0, np.int64)}, ["y"])["y"], [])
    with pytest.raises(gxx.HlsSimError, match="status 7"):
        gxx.run_binary(first, {"x": [13]})
    with pytest.raises(gxx.HlsSimError, match="did not write output 'z'"):
        gxx.run_binary(first, {"x": [1]}, ["z"])
    with pytest.raises(TypeError):
        gxx.run_binary(first, {"x": np.array([0.5])})
    src.write_text(src.read_text().replace("*= 2", "*= 3"))
    second = gxx.compile_cpp(src)
    assert second != first
    assert_array_equal(gxx.run_binary(second, {"x": [4]})["y"], [12])
    src.write_text("int main() { return undefined_name; }\n")
    with pytest.raises(gxx.HlsSimError, match="undefined_name"):
        gxx.compile_cpp(src)


def test_harness_missing_tools_are_user_errors(tmp_path, monkeypatch):
    from spvit_fpga.errors import UserError

    monkeypatch.setenv("SPVIT_CXX", "no-such-compiler-spvit")
    with pytest.raises(UserError, match="install g\\+\\+"):
        gxx.gxx_path()
    monkeypatch.delenv("SPVIT_CXX")
    monkeypatch.setenv("SPVIT_AP_TYPES_DIR", str(tmp_path))
    with pytest.raises(UserError, match="ap_int.h"):
        gxx.ap_types_include_dir()
    monkeypatch.delenv("SPVIT_AP_TYPES_DIR")
    monkeypatch.setattr(gxx.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UserError, match="pip install hls4ml"):
        gxx.ap_types_include_dir()
