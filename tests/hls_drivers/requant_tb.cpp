// C-simulation driver: spvit_requant.h, spvit_add.h and the constexpr width helpers of
// spvit_common.h.  Every section reads flat input arrays and writes one output per element;
// tests/test_hls_kernels.py compares them with spvit_fpga.intops.
#include <ap_int.h>

#include "spvit_add.h"
#include "spvit_common.h"
#include "spvit_requant.h"
#include "spvit_tb_io.h"

using namespace spvit;
using spvit_tb::array_t;

int main(int argc, char** argv) {
  const std::string dir = spvit_tb::io_dir(argc, argv);

  // requantize / round_shift of 32-bit accumulators with run-time shifts
  {
    const array_t x = spvit_tb::read_array(dir, "x32");
    const array_t s = spvit_tb::read_array(dir, "s32");
    array_t i8, i16, u8, rs;
    for (size_t i = 0; i < x.size(); i++) {
      ap_int<32> a = x[i];
      if ((long long)a != x[i]) return 4;
      const int sh = (int)s[i];
      i8.push_back(requantize<ap_int<8> >(a, sh).to_int64());
      i16.push_back(requantize<ap_int<16> >(a, sh).to_int64());
      u8.push_back((long long)requantize<ap_uint<8> >(a, sh).to_uint64());
      rs.push_back(sh >= -8 ? round_shift<ap_int<40> >(a, sh).to_int64() : 0);
    }
    spvit_tb::write_array(dir, "rq32_i8", i8);
    spvit_tb::write_array(dir, "rq32_i16", i16);
    spvit_tb::write_array(dir, "rq32_u8", u8);
    spvit_tb::write_array(dir, "rs32_i40", rs);
  }
  // 48-bit accumulators
  {
    const array_t x = spvit_tb::read_array(dir, "x48");
    const array_t s = spvit_tb::read_array(dir, "s48");
    array_t i16, i32;
    for (size_t i = 0; i < x.size(); i++) {
      ap_int<48> a = x[i];
      i16.push_back(requantize<ap_int<16> >(a, (int)s[i]).to_int64());
      i32.push_back(requantize<ap_int<32> >(a, (int)s[i]).to_int64());
    }
    spvit_tb::write_array(dir, "rq48_i16", i16);
    spvit_tb::write_array(dir, "rq48_i32", i32);
  }
  // unsigned accumulators
  {
    const array_t x = spvit_tb::read_array(dir, "xu20");
    const array_t s = spvit_tb::read_array(dir, "su20");
    array_t u8, i8;
    for (size_t i = 0; i < x.size(); i++) {
      ap_uint<20> a = x[i];
      u8.push_back((long long)requantize<ap_uint<8> >(a, (int)s[i]).to_uint64());
      i8.push_back(requantize<ap_int<8> >(a, (int)s[i]).to_int64());
    }
    spvit_tb::write_array(dir, "rqu20_u8", u8);
    spvit_tb::write_array(dir, "rqu20_i8", i8);
  }
  // rounded division: signed 40-bit / unsigned 24-bit, unsigned 32 / 12, scaled by 2^+-3
  {
    const array_t n = spvit_tb::read_array(dir, "div_n");
    const array_t d = spvit_tb::read_array(dir, "div_d");
    array_t q;
    for (size_t i = 0; i < n.size(); i++)
      q.push_back(rounded_div(ap_int<40>(n[i]), ap_uint<24>(d[i])).to_int64());
    spvit_tb::write_array(dir, "div_q", q);
  }
  {
    const array_t n = spvit_tb::read_array(dir, "udiv_n");
    const array_t d = spvit_tb::read_array(dir, "udiv_d");
    array_t q;
    for (size_t i = 0; i < n.size(); i++)
      q.push_back((long long)rounded_div(ap_uint<32>(n[i]), ap_uint<12>(d[i])).to_uint64());
    spvit_tb::write_array(dir, "udiv_q", q);
  }
  {
    const array_t n = spvit_tb::read_array(dir, "sdiv_n");
    const array_t d = spvit_tb::read_array(dir, "sdiv_d");
    array_t up, dn;
    for (size_t i = 0; i < n.size(); i++) {
      up.push_back(scaled_div<3>(ap_int<24>(n[i]), ap_uint<10>(d[i])).to_int64());
      dn.push_back(scaled_div<-3>(ap_int<24>(n[i]), ap_uint<10>(d[i])).to_int64());
    }
    spvit_tb::write_array(dir, "sdiv_up3", up);
    spvit_tb::write_array(dir, "sdiv_dn3", dn);
  }
  // residual add with run-time fractions (int16 + int8 -> int16 / int8)
  {
    const array_t a = spvit_tb::read_array(dir, "add_a");
    const array_t b = spvit_tb::read_array(dir, "add_b");
    const array_t fr = spvit_tb::read_array(dir, "add_fr");
    array_t y16, y8;
    for (size_t i = 0; i < a.size(); i++) {
      const int fa = (int)fr[3 * i], fb = (int)fr[3 * i + 1], fo = (int)fr[3 * i + 2];
      y16.push_back(add<20, ap_int<16> >(ap_int<16>(a[i]), ap_int<8>(b[i]), fa, fb, fo).to_int64());
      y8.push_back(add<20, ap_int<8> >(ap_int<16>(a[i]), ap_int<8>(b[i]), fa, fb, fo).to_int64());
    }
    spvit_tb::write_array(dir, "add_y16", y16);
    spvit_tb::write_array(dir, "add_y8", y8);
    // embed_add (class token + frame-wide add, 4 lanes) on the same operands and fractions: every
    // element must equal add<>; rows past N + 1 untouched
    static const int C = 12, NT = 5;
    static ap_int<24> fa_acc[NT + 2][C];
    static ap_int<16> fb_pos[NT][C], cls[C], frame[NT + 3][C];
    for (size_t base = 0; base + NT * C <= a.size(); base += NT * C) {
      const int fa = (int)fr[3 * base], fb = (int)fr[3 * base + 1], fo = (int)fr[3 * base + 2];
      for (int t = 0; t < NT; t++)
        for (int c = 0; c < C; c++) {
          fa_acc[t][c] = ap_int<24>(a[base + t * C + c] * 37);
          fb_pos[t][c] = ap_int<16>(b[base + t * C + c] * 129);
        }
      for (int c = 0; c < C; c++) cls[c] = c - 6;
      for (int t = 0; t < NT + 3; t++)
        for (int c = 0; c < C; c++) frame[t][c] = 999;
      embed_add<C, NT, NT + 2, NT + 3, 20, 4>(cls, fa_acc, fb_pos, frame, fa, fb, fo);
      for (int c = 0; c < C; c++) {
        if (frame[0][c] != cls[c] || frame[NT + 1][c] != 999 || frame[NT + 2][c] != 999) std::exit(9);
        for (int t = 0; t < NT; t++)
          if (frame[1 + t][c] != add<20, ap_int<16> >(fa_acc[t][c], fb_pos[t][c], fa, fb, fo)) std::exit(9);
      }
    }
  }
  // width helpers (constexpr functions evaluated at run time here)
  {
    const array_t p = spvit_tb::read_array(dir, "wd_acc_params");
    array_t acc;
    for (size_t i = 0; i + 5 < p.size(); i += 6)
      acc.push_back(accumulator_bits((int)p[i], (int)p[i + 1], p[i + 2], (int)p[i + 3], p[i + 4] != 0,
                                     p[i + 5] != 0));
    spvit_tb::write_array(dir, "wd_acc", acc);
    const array_t r = spvit_tb::read_array(dir, "wd_range");
    array_t sb;
    for (size_t i = 0; i + 1 < r.size(); i += 2) sb.push_back(signed_bits_for_range(r[i], r[i + 1]));
    spvit_tb::write_array(dir, "wd_sbits", sb);
    // compile-time: the documented default accumulator (32 bits, bias <= 30 bits, fan-in 2^16)
    static_assert(accumulator_bits(8, 8, 1LL << 16, 30, true, true) == 32, "DEFAULT_ACC_BITS proof");
    static_assert(accumulator_bits(8, 8, 1LL << 17, 30, true, true) == 33, "fan-in 2^17 needs 33");
    static_assert(accumulator_bits(8, 8, 768, 0, false, true) == 26, "uint8 patch embedding");
  }
  return 0;
}
