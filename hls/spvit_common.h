// spvit_common.h -- shared compile-time helpers of the spvit HLS kernel library.
//
// Every kernel of this library holds tensors as plain integers (ap_int<W> / ap_uint<W> holding q,
// the real value being q * 2^-frac; see docs/integer_arithmetic.md §1.1).  Rounding and saturation
// are written out with integer operations (spvit_requant.h), never left to ap_fixed quantisation
// modes, so the C-simulation is bit-exact with spvit_fpga/ir/intops.py by construction.
//
// This header holds what every kernel needs: integer traits of ap_int/ap_uint (range limits) and
// constexpr width calculators that mirror the Python ones (signed_bits_for_range,
// unsigned_bits_for_max, accumulator_bits).  All constexpr functions are C++11 (a single return
// statement) so that Vivado HLS 2020.x front ends accept them as well as Vitis HLS 2022+.
#ifndef SPVIT_COMMON_H
#define SPVIT_COMMON_H

#include <ap_int.h>

namespace spvit {

// --------------------------------------------------------------------------------------------
// Compile-time integer helpers
// --------------------------------------------------------------------------------------------

constexpr long long cmax(long long a, long long b) { return a > b ? a : b; }
constexpr long long cmin(long long a, long long b) { return a < b ? a : b; }
constexpr int imax(int a, int b) { return a > b ? a : b; }
// max(v, 0): the non-negative part of a (possibly negative) shift
constexpr int pos_part(int v) { return v > 0 ? v : 0; }

// Number of bits of a non-negative value (0 for 0), like Python's int.bit_length().
constexpr int bit_length(unsigned long long v) { return v == 0 ? 0 : 1 + bit_length(v >> 1); }

// ceil(log2(n)) for n >= 1 (0 for n == 1).
constexpr int clog2(unsigned long long n) { return n <= 1 ? 0 : bit_length(n - 1); }

// True if n is a power of two (n >= 1).
constexpr bool is_pow2(unsigned long long n) { return n >= 1 && (n & (n - 1)) == 0; }

// Smallest unsigned width holding 0..hi (at least 1); intops.unsigned_bits_for_max.
constexpr int unsigned_bits_for_max(unsigned long long hi) { return hi == 0 ? 1 : bit_length(hi); }

// Smallest two's-complement width W with -2^(W-1) <= lo and hi <= 2^(W-1)-1;
// intops.signed_bits_for_range.
constexpr int signed_bits_for_range(long long lo, long long hi) {
  return 1 + (int)cmax(bit_length(hi > 0 ? (unsigned long long)hi : 0ULL),
                       bit_length(lo < 0 ? (unsigned long long)(-(lo + 1)) : 0ULL));
}

// Integer range of a W-bit signed/unsigned type (W <= 62).
constexpr long long range_min(int w, bool s) { return s ? -(1LL << (w - 1)) : 0LL; }
constexpr long long range_max(int w, bool s) { return s ? (1LL << (w - 1)) - 1 : (1LL << w) - 1; }

// Smallest signed width holding sum_{i<fan_in} x_i*w_i + b for every input (intops.accumulator_bits).
// bias_bits == 0 means "no bias".  The product range is given by the four corner products.
constexpr long long corner_lo(long long xl, long long xh, long long wl, long long wh) {
  return cmin(cmin(cmin(xl * wl, xl * wh), cmin(xh * wl, xh * wh)), 0);
}
constexpr long long corner_hi(long long xl, long long xh, long long wl, long long wh) {
  return cmax(cmax(cmax(xl * wl, xl * wh), cmax(xh * wl, xh * wh)), 0);
}
constexpr int accumulator_bits(int in_bits, int w_bits, long long fan_in, int bias_bits, bool in_signed,
                               bool w_signed) {
  return signed_bits_for_range(
      fan_in * corner_lo(range_min(in_bits, in_signed), range_max(in_bits, in_signed),
                         range_min(w_bits, w_signed), range_max(w_bits, w_signed)) +
          (bias_bits > 0 ? range_min(bias_bits, true) : 0),
      fan_in * corner_hi(range_min(in_bits, in_signed), range_max(in_bits, in_signed),
                         range_min(w_bits, w_signed), range_max(w_bits, w_signed)) +
          (bias_bits > 0 ? range_max(bias_bits, true) : 0));
}

// --------------------------------------------------------------------------------------------
// Integer traits of ap_int / ap_uint (the only value types the kernels use)
// --------------------------------------------------------------------------------------------

template <
    typename T>  // ap_int<W> or ap_uint<W>
struct int_traits;

template <int W>
struct int_traits<ap_int<W> > {
  static const int width = W;           // bit width
  static const bool is_signed = true;   // two's complement
  static constexpr long long min_value() {
    static_assert(W <= 62, "saturation limits are computed in 64-bit integers: width must be <= 62");
    return range_min(W, true);
  }
  static constexpr long long max_value() {
    static_assert(W <= 62, "saturation limits are computed in 64-bit integers: width must be <= 62");
    return range_max(W, true);
  }
};

template <int W>
struct int_traits<ap_uint<W> > {
  static const int width = W;           // bit width
  static const bool is_signed = false;  // unsigned
  static constexpr long long min_value() { return 0; }
  static constexpr long long max_value() {
    static_assert(W <= 62, "saturation limits are computed in 64-bit integers: width must be <= 62");
    return range_max(W, false);
  }
};

// Accumulator width for `fan_in` products of the integer types TA x TB plus an optional bias TBIAS.
template <
    typename TA,  // first factor type
    typename TB>  // second factor type
constexpr int product_sum_bits(long long fan_in, int bias_bits) {
  return accumulator_bits(int_traits<TA>::width, int_traits<TB>::width, fan_in, bias_bits,
                          int_traits<TA>::is_signed, int_traits<TB>::is_signed);
}

}  // namespace spvit

#endif  // SPVIT_COMMON_H
