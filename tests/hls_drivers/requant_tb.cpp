// C-simulation driver: spvit_requant.h, the run-time requantiser and scaled division of the
// overlay units (spvit_ov_core.h, spvit_ov_select.h) and the constexpr width helpers of
// spvit_common.h.  Every section reads flat input arrays and writes one output per element;
// tests/test_hls_kernels.py compares them with spvit_fpga.intops.
#include <ap_int.h>

#include "spvit_common.h"
#include "spvit_ov_core.h"
#include "spvit_ov_select.h"
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
  // the overlay units' run-time requantiser (spvit_ov_core.h requant_rt): 48-bit values, run-time
  // shift and output format (bits, signed)
  {
    const array_t x = spvit_tb::read_array(dir, "rt_x");
    const array_t p = spvit_tb::read_array(dir, "rt_p");  // shift, bits, signed per value
    array_t y;
    for (size_t i = 0; i < x.size(); i++) {
      const ap_int<48> v = x[i];
      if ((long long)v != x[i]) return 4;
      y.push_back(requant_rt<48>(v, (int)p[3 * i], format_range((int)p[3 * i + 1], p[3 * i + 2] != 0)));
    }
    spvit_tb::write_array(dir, "rt_y", y);
  }
  // run-time scaled division (spvit_ov_select.h scaled_div_rt): RNE(num * 2^up / den)
  {
    const array_t n = spvit_tb::read_array(dir, "sdrt_n");
    const array_t d = spvit_tb::read_array(dir, "sdrt_d");
    const array_t u = spvit_tb::read_array(dir, "sdrt_up");
    array_t y;
    for (size_t i = 0; i < n.size(); i++) y.push_back(scaled_div_rt(ap_int<48>(n[i]), ap_uint<32>(d[i]), (int)u[i]));
    spvit_tb::write_array(dir, "sdrt_y", y);
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
