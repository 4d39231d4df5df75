// spvit_requant.h -- round-half-to-even shifts, saturation, requantisation and rounded division.
//
// HLS face of intops.round_shift / saturate / requantize / int_rounded_div (_scaled_div).
// One rounding rule everywhere: round to nearest, ties to even (RNE).  It is implemented with
// explicit integer operations (guard bit, sticky bits, quotient LSB), not with ap_fixed
// quantisation modes, so it is the same in C-simulation, in synthesis and in every HLS version.
//
// Shift amounts are run-time `int`s so one engine can serve many layers; when a caller passes a
// constant, HLS folds the barrel shifters away after inlining.  Left shifts (shift <= 0) saturate
// by comparing against pre-shifted limits, so no intermediate widens.
#ifndef SPVIT_REQUANT_H
#define SPVIT_REQUANT_H

#include "spvit_common.h"

namespace spvit {

// Signed view of an integer type: ap_int<W> stays, ap_uint<W> becomes ap_int<W+1> (value kept).
template <
    typename T>  // ap_int<W> or ap_uint<W>
struct signed_view;
template <int W>
struct signed_view<ap_int<W> > {
  typedef ap_int<W> type;
};
template <int W>
struct signed_view<ap_uint<W> > {
  typedef ap_int<W + 1> type;
};

// saturate(x): clamp x to the range of TO (AP_SAT); intops.saturate.
template <
    typename TO,  // target type (its range is the clamp)
    typename TI>  // input type
inline TO saturate(TI x) {
#pragma HLS inline
  if (x > int_traits<TO>::max_value()) return TO(int_traits<TO>::max_value());
  if (x < int_traits<TO>::min_value()) return TO(int_traits<TO>::min_value());
  return TO(x);
}

// RNE(x / 2^s) for s >= 1; the result has x's width (it always fits).
// Hardware: q = x >> s (floor), guard = bit s-1, sticky = OR of bits s-2..0;
// round up iff guard && (sticky || q odd).  For s >= W the result is 0 for every x
// (|x| <= 2^(W-1) <= 2^(s-1), ties at -2^(W-1) go to the even 0), so s is clamped to W.
template <
    int W>  // input width
inline ap_int<W> round_shift_right(ap_int<W> x, int s) {
#pragma HLS inline
  const int sc = s > W ? W : s;
  ap_int<W + 1> xe = x;
  ap_int<W + 1> q = xe >> sc;
  bool guard = xe[sc - 1];
  ap_uint<W + 1> sticky_mask = (ap_uint<W + 1>(1) << (sc - 1)) - 1;
  bool sticky = (ap_uint<W + 1>(xe) & sticky_mask) != 0;
  bool up = guard && (sticky || q[0] == 1);
  return ap_int<W>(q + (up ? 1 : 0));
}

// intops.round_shift(x, s): RNE(x / 2^s); for s <= 0 an exact left shift (TO must be wide enough).
template <
    typename TO,  // result type (wide enough for left shifts)
    typename TI>  // input type
inline TO round_shift(TI x, int s) {
#pragma HLS inline
  typedef typename signed_view<TI>::type ts;
  if (s > 0) return TO(round_shift_right(ts(x), s));
  return TO(x) << (-s);
}

// intops.requantize(acc, s, fmt) = saturate(round_shift(acc, s)): one rounding, then saturation.
// s <= 0: sat(acc << L) is evaluated without widening: acc > floor(max / 2^L) saturates high,
// acc < ceil(min / 2^L) saturates low, anything between shifts exactly inside TO.
template <
    typename TO,  // target type
    typename TI>  // accumulator type (ap_int or ap_uint)
inline TO requantize(TI acc, int s) {
#pragma HLS inline
  typedef typename signed_view<TI>::type ts;
  ts a = acc;
  if (s > 0) return saturate<TO>(round_shift_right(a, s));
  const int l = -s > 62 ? 62 : -s;
  const long long hi = int_traits<TO>::max_value() >> l;
  const long long lo = -((-int_traits<TO>::min_value()) >> l);
  if (a > hi) return TO(int_traits<TO>::max_value());
  if (a < lo) return TO(int_traits<TO>::min_value());
  const int lc = l < int_traits<TO>::width ? l : int_traits<TO>::width - 1;  // only 0 reaches here if l >= width
  return TO(a) << lc;
}

// intops.int_rounded_div(num, den) = RNE(num / den), den > 0.
// RNE is odd-symmetric, so the magnitude goes through one unsigned divider:
// q0 = |n| / d, r = |n| % d, q = q0 + (2r > d || (2r == d && q0 odd)), result = sign(n) * q.
// |result| <= |num|, so the result has num's width.
template <
    int NW,  // numerator width
    int DW>  // divisor width
inline ap_int<NW> rounded_div(ap_int<NW> num, ap_uint<DW> den) {
#pragma HLS inline
  const bool neg = num < 0;
  ap_uint<NW> mag = neg ? ap_uint<NW>(-num) : ap_uint<NW>(num);
  ap_uint<NW> q0 = mag / den;  // HLS: one NW-bit unsigned divider (udiv core)
  ap_uint<DW> r = mag % den;
  ap_uint<DW + 1> r2 = ap_uint<DW + 1>(r) << 1;
  bool up = (r2 > den) || (r2 == den && q0[0] == 1);
  ap_int<NW + 1> q = ap_int<NW + 1>(q0) + (up ? 1 : 0);
  return ap_int<NW>(neg ? ap_int<NW + 1>(-q) : q);
}

// Unsigned numerator: same rule, no sign handling.
template <
    int NW,  // numerator width
    int DW>  // divisor width
inline ap_uint<NW> rounded_div(ap_uint<NW> num, ap_uint<DW> den) {
#pragma HLS inline
  ap_uint<NW> q0 = num / den;
  ap_uint<DW> r = num % den;
  ap_uint<DW + 1> r2 = ap_uint<DW + 1>(r) << 1;
  bool up = (r2 > den) || (r2 == den && q0[0] == 1);
  return ap_uint<NW>(q0 + (up ? 1 : 0));
}

// intops._scaled_div(num, den, UP) = RNE(num * 2^UP / den) with one rounding:
// UP >= 0 shifts the numerator left, UP < 0 shifts the divisor left (compile-time UP).
template <
    int UP,  // power-of-two scale of the quotient (may be negative)
    int NW,  // numerator width
    int DW>  // divisor width
inline ap_int<NW + pos_part(UP)> scaled_div(ap_int<NW> num, ap_uint<DW> den) {
#pragma HLS inline
  ap_int<NW + pos_part(UP)> n = ap_int<NW + pos_part(UP)>(num) << pos_part(UP);
  ap_uint<DW + pos_part(-UP)> d = ap_uint<DW + pos_part(-UP)>(den) << pos_part(-UP);
  return rounded_div(n, d);
}

template <
    int UP,  // power-of-two scale of the quotient (may be negative)
    int NW,  // numerator width
    int DW>  // divisor width
inline ap_uint<NW + pos_part(UP)> scaled_div(ap_uint<NW> num, ap_uint<DW> den) {
#pragma HLS inline
  ap_uint<NW + pos_part(UP)> n = ap_uint<NW + pos_part(UP)>(num) << pos_part(UP);
  ap_uint<DW + pos_part(-UP)> d = ap_uint<DW + pos_part(-UP)>(den) << pos_part(-UP);
  return rounded_div(n, d);
}

}  // namespace spvit

#endif  // SPVIT_REQUANT_H
