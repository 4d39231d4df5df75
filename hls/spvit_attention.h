// spvit_attention.h -- one attention head over a data-dependent token count
// (HLS face of intops.int_attention_scores, int_softmax, int_attention_context).
//
//   S[i][j] = requantize( sum_c Q[i][c] * K[j][c],  score_shift,   TS )     (1/sqrt(d) folded in Q)
//   P[i][:] = softmax(S[i][:])                                              (spvit_softmax.h)
//   O[i][c] = requantize( sum_j P[i][j] * V[j][c],  context_shift, TO )
//
// Row by row: for each query i the score row (n * DH/SIMD cycles), its softmax (3n cycles) and
// the context row (DH/SIMD * n cycles) are computed, so only one score/probability row is held.
// n (live tokens) is data-dependent, 0 <= n <= MAX_N; pruned tokens are physically absent, there
// is no key mask.  Accumulators are sized from the types (intops.accumulator_bits) and cannot
// overflow.
#ifndef SPVIT_ATTENTION_H
#define SPVIT_ATTENTION_H

#include <cassert>

#include "spvit_requant.h"
#include "spvit_softmax.h"

namespace spvit {

// One row of scores: s[j] = requantize(q . k[j], shift) for j < n.
template <
    int MAX_N,  // compile-time maximum number of tokens
    int DH,     // head dimension
    int SIMD,     // products per cycle (divides DH)
    typename TS,  // score type (int8)
    typename TQ,  // query type
    typename TK>  // key type
void attention_scores_row(const TQ q[DH], const TK k[MAX_N][DH], TS s[MAX_N], int n, int shift) {
  static_assert(DH % SIMD == 0, "SIMD must divide the head dimension");
  static const int ACC_W = product_sum_bits<TQ, TK>(DH, 0);
  typedef ap_int<ACC_W> acc_t;
scores:
  for (int j = 0; j < n; j++) {
#pragma HLS loop_tripcount min = 1 max = MAX_N
    acc_t acc = 0;
  dot:
    for (int cf = 0; cf < DH / SIMD; cf++) {
#pragma HLS pipeline II = 1
      for (int u = 0; u < SIMD; u++) {
#pragma HLS unroll
        acc += q[cf * SIMD + u] * k[j][cf * SIMD + u];
      }
    }
    s[j] = requantize<TS>(acc, shift);
  }
}

// One row of context: o[c] = requantize(sum_{j<n} p[j] * v[j][c], shift).
template <
    int MAX_N,  // compile-time maximum number of tokens
    int DH,     // head dimension
    int SIMD,     // output channels per cycle (divides DH)
    typename TO,  // context output type
    typename TP,  // probability type (unsigned)
    typename TV>  // value type
void attention_context_row(const TP p[MAX_N], const TV v[MAX_N][DH], TO o[DH], int n, int shift) {
  static_assert(DH % SIMD == 0, "SIMD must divide the head dimension");
  static const int ACC_W = product_sum_bits<TP, TV>(MAX_N, 0);
  typedef ap_int<ACC_W> acc_t;
  acc_t acc[SIMD];
#pragma HLS array_partition variable = acc complete
context:
  for (int cf = 0; cf < DH / SIMD; cf++) {
    for (int u = 0; u < SIMD; u++) {
#pragma HLS unroll
      acc[u] = 0;
    }
  keys:
    for (int j = 0; j < n; j++) {
#pragma HLS loop_tripcount min = 1 max = MAX_N
#pragma HLS pipeline II = 1
      for (int u = 0; u < SIMD; u++) {
#pragma HLS unroll
        acc[u] += p[j] * v[j][cf * SIMD + u];
      }
    }
    for (int u = 0; u < SIMD; u++) {
#pragma HLS unroll
      o[cf * SIMD + u] = requantize<TO>(acc[u], shift);
    }
  }
}

// One head: o = softmax(q k^T) v for the n live tokens.
template <
    int MAX_N,   // compile-time maximum number of tokens
    int DH,      // head dimension
    int SIMD,    // parallel lanes of the dot products (divides DH)
    int EXP_N,   // exp table entries (intops.exp_table_entries of the score format)
    int P_FRAC,  // probability frac (= W(TP))
    typename TS,  // score type (int8)
    typename TP,  // probability type (ap_uint<8> or ap_uint<10>)
    typename TQ,  // query type
    typename TK,  // key type
    typename TV,  // value type
    typename TE,  // exp table entry type
    typename TO>  // context output type
void attention_head(const TQ q[MAX_N][DH], const TK k[MAX_N][DH], const TV v[MAX_N][DH],
                    TO o[MAX_N][DH], int n, int score_shift, int context_shift,
                    const TE exp_table[EXP_N]) {
  assert(n >= 0 && n <= MAX_N);
  TS srow[MAX_N];
  TP prow[MAX_N];
#pragma HLS array_partition variable = v cyclic factor = SIMD dim = 2
#pragma HLS array_partition variable = k cyclic factor = SIMD dim = 2
queries:
  for (int i = 0; i < n; i++) {
#pragma HLS loop_tripcount min = 1 max = MAX_N
    attention_scores_row<MAX_N, DH, SIMD, TS>(q[i], k, srow, n, score_shift);
    softmax<MAX_N, EXP_N, P_FRAC>(srow, prow, n, exp_table);
    attention_context_row<MAX_N, DH, SIMD, TO>(prow, v, o[i], n, context_shift);
  }
}

}  // namespace spvit

#endif  // SPVIT_ATTENTION_H
