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
//            softmax's max pass is fused here); QP x SIMD multipliers
//   exps     ceil(n/EL) cycles: E_j = exp_table[min(m - s_j, EXP_N - 1)] and their sum S, EL keys
//            per cycle (QP x EL exp-table reads)
//   context  (cf, j) flattened, DH/SIMD * n cycles: p_j = sat(RNE(E_j 2^P_FRAC / S)) is computed
//            on the first sweep (the softmax's divide pass is fused here) and reused after, and
//            o[c] += p_j * v[j][c] over SIMD channels per cycle; its own QP x SIMD multipliers
// The two multiplier arrays work at the same time: one loop of n * DH/SIMD cycles runs the
// context of block b-1 and the scores of block b (score rows, maxima, exps and sums are double
// buffered by block parity), then the exps of block b.  ceil(n/QP) = NB blocks cost
// (NB + 1) * n * DH/SIMD + NB * ceil(n/EL) cycles (attention_cycles).  The integers are those of
// attention_scores_row, softmax and attention_context_row (exact sums, same roundings).
// q, k, v and o may be whole frames of LD >= DH channels: the head is the column slice
// col0 .. col0+DH-1 (col0 a multiple of SIMD), so no per-head copies are needed.
template <
    int MAX_N,   // compile-time maximum number of tokens
    int DH,      // head dimension
    int SIMD,    // parallel lanes of the dot products (divides DH)
    int EXP_N,   // exp table entries (intops.exp_table_entries of the score format)
    int P_FRAC,  // probability frac (= W(TP))
    typename TS,  // score type (int8)
    typename TP,  // probability type (ap_uint<8> or ap_uint<10>)
    int QP = 1,   // query rows processed in parallel (QP * SIMD MACs per cycle in each phase)
    int EL = 1,   // keys per cycle of the exps loop (QP * EL exp-table reads per cycle)
    int LD = DH,  // channels per row of q, k, v, o (the head is columns col0 .. col0+DH-1)
    typename TQ,  // query type
    typename TK,  // key type
    typename TV,  // value type
    typename TE,  // exp table entry type
    typename TO>  // context output type
void attention_head(const TQ q[MAX_N][LD], const TK k[MAX_N][LD], const TV v[MAX_N][LD],
                    TO o[MAX_N][LD], int n, int score_shift, int context_shift,
                    const TE exp_table[EXP_N], int col0 = 0) {
  static_assert(DH % SIMD == 0, "SIMD must divide the head dimension");
  static_assert(LD >= DH && LD % SIMD == 0, "LD must be >= DH and a multiple of SIMD");
  static_assert(QP >= 1 && EL >= 1, "QP and EL must be >= 1");
  assert(col0 >= 0 && col0 + DH <= LD && col0 % SIMD == 0);
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
  // [block parity][query row][key]: written by the scores / exps of block b, read by the exps /
  // context of the same block while the next block's scores use the other parity
  TS srow[2][QP][MAX_N];
  TE erow[2][QP][MAX_N];
  TP prow[QP][MAX_N];
#pragma HLS array_partition variable = srow complete dim = 1
#pragma HLS array_partition variable = srow complete dim = 2
#pragma HLS array_partition variable = srow cyclic factor = EL dim = 3
#pragma HLS array_partition variable = erow complete dim = 1
#pragma HLS array_partition variable = erow complete dim = 2
#pragma HLS array_partition variable = erow cyclic factor = EL dim = 3
#pragma HLS array_partition variable = prow complete dim = 1
  sacc_t sacc[QP];
  TS mx[2][QP];
  sum_t ssum[2][QP];
  cacc_t cacc[QP][SIMD];
#pragma HLS array_partition variable = sacc complete
#pragma HLS array_partition variable = mx complete dim = 0
#pragma HLS array_partition variable = ssum complete dim = 0
#pragma HLS array_partition variable = cacc complete dim = 0

  const int nb = (n + QP - 1) / QP;  // query blocks
blocks:
  for (int b = 0; b <= nb; b++) {
#pragma HLS loop_tripcount min = 1 max = (MAX_N + QP - 1) / QP + 1
    const bool do_scores = b < nb;  // scores of block b
    const bool do_context = b > 0;  // context of block b-1
    const int sp = b & 1;           // parity of block b
    const int cp = 1 - sp;          // parity of block b-1
    const int i0 = b * QP;          // first query row of block b
    const int c0 = i0 - QP;         // first query row of block b-1
    int row[QP];
#pragma HLS array_partition variable = row complete
    for (int r = 0; r < QP; r++) {
#pragma HLS unroll
      row[r] = i0 + r < n ? i0 + r : (n > 0 ? n - 1 : 0);  // rows past n recompute row n-1, not stored
      mx[sp][r] = TS(int_traits<TS>::min_value());
      ssum[sp][r] = 0;
    }
    int sj = 0;   // scores: key
    int scf = 0;  // scores: lane group
    int cj = 0;   // context: key
    int ccf = 0;  // context: lane group
  scores_context:
    for (int it = 0; it < n * F; it++) {
#pragma HLS loop_tripcount min = F max = MAX_N * F
#pragma HLS pipeline II = 1
#pragma HLS dependence variable = srow inter false
#pragma HLS dependence variable = erow inter false
      if (do_scores) {
        for (int r = 0; r < QP; r++) {
#pragma HLS unroll
          sacc_t part = scf == 0 ? sacc_t(0) : sacc[r];
          for (int u = 0; u < SIMD; u++) {
#pragma HLS unroll
            part += q[row[r]][col0 + scf * SIMD + u] * k[sj][col0 + scf * SIMD + u];
          }
          sacc[r] = part;
          if (scf == F - 1) {
            const TS sc = requantize<TS>(part, score_shift);
            srow[sp][r][sj] = sc;
            if (sc > mx[sp][r]) mx[sp][r] = sc;
          }
        }
        if (scf == F - 1) {
          scf = 0;
          sj++;
        } else {
          scf++;
        }
      }
      if (do_context) {
        for (int r = 0; r < QP; r++) {
#pragma HLS unroll
          TP p;
          if (ccf == 0) {
            p = saturate<TP>(rounded_div(num_t(num_t(erow[cp][r][cj]) << P_FRAC), ssum[cp][r]));
            prow[r][cj] = p;
          } else {
            p = prow[r][cj];
          }
          for (int u = 0; u < SIMD; u++) {
#pragma HLS unroll
            const cacc_t part = (cj == 0 ? cacc_t(0) : cacc[r][u]) + p * v[cj][col0 + ccf * SIMD + u];
            cacc[r][u] = part;
            if (cj == n - 1 && c0 + r < n) o[c0 + r][col0 + ccf * SIMD + u] = requantize<TO>(part, context_shift);
          }
        }
        if (cj == n - 1) {
          cj = 0;
          ccf++;
        } else {
          cj++;
        }
      }
    }
    if (do_scores) {
    exps:
      for (int j0 = 0; j0 < n; j0 += EL) {
#pragma HLS loop_tripcount min = 1 max = (MAX_N + EL - 1) / EL
#pragma HLS pipeline II = 1
        for (int r = 0; r < QP; r++) {
#pragma HLS unroll
          sum_t part = 0;  // exact: the row sum of n <= MAX_N entries fits sum_t
          for (int l = 0; l < EL; l++) {
#pragma HLS unroll
            const int jj = j0 + l;
            if (jj < n) {
              ap_uint<TS_W> kx = ap_uint<TS_W>(mx[sp][r] - srow[sp][r][jj]);
              if (kx > EXP_N - 1) kx = EXP_N - 1;
              const TE e = exp_table[kx];
              erow[sp][r][jj] = e;
              part += e;
            }
          }
          ssum[sp][r] += part;
        }
      }
    }
  }
}

// Cycle estimate of attention_head (pipelined loops at II=1, loop entry/exit not counted).
template <
    int DH,      // head dimension
    int SIMD,    // lanes
    int QP,      // query rows in parallel
    int EL = 1>  // keys per cycle of the exps loop
constexpr long long attention_cycles(long long n) {
  return ((n + QP - 1) / QP + 1) * n * (DH / SIMD) + ((n + QP - 1) / QP) * ((n + EL - 1) / EL);
}

}  // namespace spvit

#endif  // SPVIT_ATTENTION_H
