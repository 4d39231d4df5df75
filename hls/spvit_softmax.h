// spvit_softmax.h -- integer softmax of one row (HLS face of intops.int_softmax).
//
//   m   = max_j x_j
//   k_j = min(m - x_j, EXP_N - 1)                 unsigned, W(TS) bits
//   E_j = exp_table[k_j]                          uint16 (intops.exp_table, exp_frac 15)
//   S   = sum_j E_j                               W(TE) + ceil(log2 MAX_N) bits, S >= E[0] > 0
//   p_j = sat_p( RNE( E_j * 2^P_FRAC / S ) )      unsigned, P_FRAC = prob frac (8 or 10)
//
// Three passes over the row (max, exp+sum, divide), each pipelined at II=1: 3n cycles + divider
// latency per row.  One division per element with one divisor per row; E_j <= S, so the quotient
// is at most 2^P_FRAC (a (W(TE)+P_FRAC)-bit by W(S)-bit divider suffices).
// The row length n is data-dependent, 1 <= n <= MAX_N (n = 0 writes nothing).
#ifndef SPVIT_SOFTMAX_H
#define SPVIT_SOFTMAX_H

#include <cassert>

#include "spvit_requant.h"

namespace spvit {

template <
    int MAX_N,   // compile-time maximum row length
    int EXP_N,   // exp table entries: min(2^W(TS), 1024) (intops.exp_table_entries)
    int P_FRAC,  // frac of the probabilities (= W(TP) for intops.prob_format)
    typename TS,  // score type (ap_int<8>)
    typename TP,  // probability type (unsigned: ap_uint<8> or ap_uint<10>)
    typename TE>  // exp table entry type (ap_uint<16>)
void softmax(const TS x[MAX_N], TP p[MAX_N], int n, const TE exp_table[EXP_N]) {
  static_assert(EXP_N >= 1, "the exp table needs at least one entry");
  static_assert(P_FRAC >= 0, "probability frac must be >= 0");
  static_assert(!int_traits<TP>::is_signed, "probabilities are unsigned");
  static const int TS_W = int_traits<TS>::width;
  static const int TE_W = int_traits<TE>::width;
  static const int SUM_W = TE_W + clog2(MAX_N);                 // sum of n <= MAX_N entries
  static const int K_W = TS_W;  // m - x lies in 0 .. 2^W(TS) - 1
  typedef ap_uint<SUM_W> sum_t;
  typedef ap_uint<TE_W + P_FRAC> num_t;
  assert(n >= 0 && n <= MAX_N);

  TE e[MAX_N];
  TS m = TS(int_traits<TS>::min_value());
row_max:
  for (int j = 0; j < n; j++) {
#pragma HLS loop_tripcount min = 1 max = MAX_N
#pragma HLS pipeline II = 1
    if (x[j] > m) m = x[j];
  }
  sum_t s = 0;
row_exp:
  for (int j = 0; j < n; j++) {
#pragma HLS loop_tripcount min = 1 max = MAX_N
#pragma HLS pipeline II = 1
    ap_uint<K_W> k = ap_uint<K_W>(m - x[j]);
    if (k > EXP_N - 1) k = EXP_N - 1;
    e[j] = exp_table[k];
    s += e[j];
  }
row_div:
  for (int j = 0; j < n; j++) {
#pragma HLS loop_tripcount min = 1 max = MAX_N
#pragma HLS pipeline II = 1
    num_t num = num_t(e[j]) << P_FRAC;
    p[j] = saturate<TP>(rounded_div(num, s));
  }
}

}  // namespace spvit

#endif  // SPVIT_SOFTMAX_H
