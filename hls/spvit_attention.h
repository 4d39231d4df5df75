// spvit_attention.h -- one attention head over a data-dependent token count
// (HLS face of intops.int_attention_scores, int_softmax, int_attention_context).
//
//   S[i][j] = requantize( sum_c Q[i][c] * K[j][c],  score_shift,   TS )     (1/sqrt(d) folded in Q)
//   P[i][:] = softmax(S[i][:])                                              (spvit_softmax.h)
//   O[i][c] = requantize( sum_j P[i][j] * V[j][c],  context_shift, TO )
//
// attention_head works on QP query rows at a time with the softmax passes fused into the score
// and context loops (see below); the row kernels are the one-row building blocks and references.
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

// One head: o = softmax(q k^T) v for the n live tokens, QP query rows at a time.
//
// Per block of QP query rows (all rows in parallel, SIMD lanes each):
//   scores   (j, cf) flattened, n * DH/SIMD cycles: the score row and its running maximum (the
//            softmax's max pass is fused here)
//   exps     n cycles: E_j = exp_table[min(m - s_j, EXP_N - 1)] and their sum S
//   context  (cf, j) flattened, DH/SIMD * n cycles: p_j = sat(RNE(E_j 2^P_FRAC / S)) is computed
//            on the first sweep (the softmax's divide pass is fused here) and reused after, and
//            o[c] += p_j * v[j][c] over SIMD channels per cycle
// so a head costs ceil(n/QP) * n * (2*DH/SIMD + 1) cycles (attention_cycles) and the integers are
// those of attention_scores_row, softmax and attention_context_row (exact sums, same roundings).
template <
    int MAX_N,   // compile-time maximum number of tokens
    int DH,      // head dimension
    int SIMD,    // parallel lanes of the dot products (divides DH)
    int EXP_N,   // exp table entries (intops.exp_table_entries of the score format)
    int P_FRAC,  // probability frac (= W(TP))
    typename TS,  // score type (int8)
    typename TP,  // probability type (ap_uint<8> or ap_uint<10>)
    int QP = 1,   // query rows processed in parallel (QP * SIMD MACs per cycle in each phase)
    typename TQ,  // query type
    typename TK,  // key type
    typename TV,  // value type
    typename TE,  // exp table entry type
    typename TO>  // context output type
void attention_head(const TQ q[MAX_N][DH], const TK k[MAX_N][DH], const TV v[MAX_N][DH],
                    TO o[MAX_N][DH], int n, int score_shift, int context_shift,
                    const TE exp_table[EXP_N]) {
  static_assert(DH % SIMD == 0, "SIMD must divide the head dimension");
  static_assert(QP >= 1, "QP must be >= 1");
  static_assert(EXP_N >= 1, "the exp table needs at least one entry");
  static_assert(!int_traits<TP>::is_signed, "probabilities are unsigned");
  static const int F = DH / SIMD;
  static const int S_ACC_W = product_sum_bits<TQ, TK>(DH, 0);
  static const int C_ACC_W = product_sum_bits<TP, TV>(MAX_N, 0);
  static const int TS_W = int_traits<TS>::width;
  static const int TE_W = int_traits<TE>::width;
  static const int SUM_W = TE_W + clog2(MAX_N);  // as in softmax
  typedef ap_int<S_ACC_W> sacc_t;
  typedef ap_int<C_ACC_W> cacc_t;
  typedef ap_uint<SUM_W> sum_t;
  typedef ap_uint<TE_W + P_FRAC> num_t;
  assert(n >= 0 && n <= MAX_N);
#pragma HLS array_partition variable = q cyclic factor = QP dim = 1
#pragma HLS array_partition variable = q cyclic factor = SIMD dim = 2
#pragma HLS array_partition variable = k cyclic factor = SIMD dim = 2
#pragma HLS array_partition variable = v cyclic factor = SIMD dim = 2
#pragma HLS array_partition variable = o cyclic factor = QP dim = 1
#pragma HLS array_partition variable = o cyclic factor = SIMD dim = 2
  TS srow[QP][MAX_N];
  TE erow[QP][MAX_N];
  TP prow[QP][MAX_N];
#pragma HLS array_partition variable = srow complete dim = 1
#pragma HLS array_partition variable = erow complete dim = 1
#pragma HLS array_partition variable = prow complete dim = 1
  sacc_t sacc[QP];
  TS mx[QP];
  sum_t ssum[QP];
  cacc_t cacc[QP][SIMD];
#pragma HLS array_partition variable = sacc complete
#pragma HLS array_partition variable = mx complete
#pragma HLS array_partition variable = ssum complete
#pragma HLS array_partition variable = cacc complete dim = 0

blocks:
  for (int i0 = 0; i0 < n; i0 += QP) {
#pragma HLS loop_tripcount min = 1 max = (MAX_N + QP - 1) / QP
    int row[QP];
#pragma HLS array_partition variable = row complete
    for (int r = 0; r < QP; r++) {
#pragma HLS unroll
      row[r] = i0 + r < n ? i0 + r : n - 1;  // rows past n recompute row n-1, not stored
      mx[r] = TS(int_traits<TS>::min_value());
      ssum[r] = 0;
    }
    int j = 0;
    int cf = 0;
  scores:
    for (int it = 0; it < n * F; it++) {
#pragma HLS loop_tripcount min = F max = MAX_N * F
#pragma HLS pipeline II = 1
      for (int r = 0; r < QP; r++) {
#pragma HLS unroll
        sacc_t part = cf == 0 ? sacc_t(0) : sacc[r];
        for (int u = 0; u < SIMD; u++) {
#pragma HLS unroll
          part += q[row[r]][cf * SIMD + u] * k[j][cf * SIMD + u];
        }
        sacc[r] = part;
        if (cf == F - 1) {
          const TS sc = requantize<TS>(part, score_shift);
          srow[r][j] = sc;
          if (sc > mx[r]) mx[r] = sc;
        }
      }
      if (cf == F - 1) {
        cf = 0;
        j++;
      } else {
        cf++;
      }
    }
  exps:
    for (int jj = 0; jj < n; jj++) {
#pragma HLS loop_tripcount min = 1 max = MAX_N
#pragma HLS pipeline II = 1
      for (int r = 0; r < QP; r++) {
#pragma HLS unroll
        ap_uint<TS_W> kx = ap_uint<TS_W>(mx[r] - srow[r][jj]);
        if (kx > EXP_N - 1) kx = EXP_N - 1;
        const TE e = exp_table[kx];
        erow[r][jj] = e;
        ssum[r] += e;
      }
    }
    j = 0;
    cf = 0;
  context:
    for (int it = 0; it < F * n; it++) {
#pragma HLS loop_tripcount min = F max = MAX_N * F
#pragma HLS pipeline II = 1
      for (int r = 0; r < QP; r++) {
#pragma HLS unroll
        TP p;
        if (cf == 0) {
          p = saturate<TP>(rounded_div(num_t(num_t(erow[r][j]) << P_FRAC), ssum[r]));
          prow[r][j] = p;
        } else {
          p = prow[r][j];
        }
        for (int u = 0; u < SIMD; u++) {
#pragma HLS unroll
          const cacc_t part = (j == 0 ? cacc_t(0) : cacc[r][u]) + p * v[j][cf * SIMD + u];
          cacc[r][u] = part;
          if (j == n - 1 && i0 + r < n) o[i0 + r][cf * SIMD + u] = requantize<TO>(part, context_shift);
        }
      }
      if (j == n - 1) {
        j = 0;
        cf++;
      } else {
        j++;
      }
    }
  }
}

// Cycle estimate of attention_head (pipelined loops at II=1, loop entry/exit not counted).
template <
    int DH,    // head dimension
    int SIMD,  // lanes
    int QP>    // query rows in parallel
constexpr long long attention_cycles(long long n) {
  return ((n + QP - 1) / QP) * n * (2 * (DH / SIMD) + 1);
}

}  // namespace spvit

#endif  // SPVIT_ATTENTION_H
