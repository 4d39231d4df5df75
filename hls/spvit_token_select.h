// spvit_token_select.h -- token selector arithmetic and the streaming token-select / package-merge
// unit (HLS face of intops.int_head_mean, int_token_mean, keep_decision, int_keep_prob,
// int_package_token; docs/integer_arithmetic.md §5).
//
// The selector's MLPs (SE head weights, per-head LayerNorm + MLP producing delta_h =
// s_keep,h - s_prune,h) run on the GEMM engine (spvit_linear.h), LayerNorm and the tables.
// This header holds the rest:
//   head_mean      u_h  = sat(RNE(sum_{c in head h} x_c * 2^UP / d_h))                   (§5.1)
//   token_mean     g_c  = sat(RNE(sum_{j live} x_jc * 2^UP / n)), 0 if n == 0            (§5.3)
//   keep_decision  keep = sum_h w_h * delta_h >= tau                                   (§5.4)
//   topk_decision  keep the k largest scores, ties to the lower index (intops.topk_decision)
//   keep_prob      p    = sat(RNE(sum_h w_h sigma_h * 2^UP / sum_h w_h)), uniform if W=0 (§5.5)
//   package_token  pkg  = RNE(sum p_j x_j / sum p_j), RNE mean if P=0, 0 if none        (§5.6)
//   token_select   the two-pass unit over a frame buffer:
//                  in : [class, patch_0 .. patch_{n-1}, package_0 .. package_{k-1}]
//                  out: class, kept patches in order, package_0 .. package_{k-1}, new package
//                  (the new package token is always emitted; zeros when nothing is pruned).
//   token_select_frame  the same unit in place on the frame, LANES channels per cycle.
#ifndef SPVIT_TOKEN_SELECT_H
#define SPVIT_TOKEN_SELECT_H

#include <cassert>

#include <hls_stream.h>

#include "spvit_requant.h"
#include "spvit_tables.h"

namespace spvit {

// ---------------------------------------------------------------------------------------------
// head_mean: per-head channel mean of one token (input of the SE head-weight MLP)
// ---------------------------------------------------------------------------------------------
template <
    int C,        // channels of the token
    int H,        // heads (divides C); d_h = C / H channels per head
    int FRAC_UP,    // f_out - f_in (may be negative)
    int LANES = 1,  // channels summed per cycle (divides C / H)
    typename TU,    // output type (int8 SE-MLP input)
    typename TX>    // token type (residual stream)
void head_mean(const TX x[C], TU u[H]) {
  static_assert(C % H == 0, "heads must divide the channels");
  static const int DH = C / H;
  static_assert(DH % LANES == 0, "LANES must divide the head width");
#pragma HLS array_partition variable = x cyclic factor = LANES
  static const int SUM_W =
      signed_bits_for_range(DH * int_traits<TX>::min_value(), DH * int_traits<TX>::max_value());
  typedef ap_int<SUM_W> sum_t;
heads:
  for (int h = 0; h < H; h++) {
    sum_t s = 0;
  channels:
    for (int cb = 0; cb < DH / LANES; cb++) {
#pragma HLS pipeline II = 1
      sum_t part = 0;  // exact: |part| <= |s| bound
      for (int l = 0; l < LANES; l++) {
#pragma HLS unroll
        part += x[h * DH + cb * LANES + l];
      }
      s += part;
    }
    if (is_pow2(DH)) {
      // RNE(s * 2^UP / 2^b) = round_shift(s, b - UP): a shift, no divider
      u[h] = requantize<TU>(s, clog2(DH) - FRAC_UP);
    } else {
      u[h] = saturate<TU>(scaled_div<FRAC_UP>(s, ap_uint<unsigned_bits_for_max(DH)>(DH)));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// token_mean: mean over the n live tokens of a buffer (global feature of the selector)
// ---------------------------------------------------------------------------------------------
template <
    int C,        // channels averaged (e.g. the last d/2 features of a head)
    int MAX_N,      // compile-time maximum number of live tokens
    int FRAC_UP,    // f_out - f_in (may be negative)
    int LANES = 1,  // channels accumulated per cycle (divides C); the divisions stay 1 per cycle
    typename TO,    // output type
    typename TX>    // input type
void token_mean(const TX x[MAX_N][C], int n, TO g[C]) {
  static_assert(C % LANES == 0, "LANES must divide the channels");
  static const int SUM_W = signed_bits_for_range(MAX_N * int_traits<TX>::min_value(),
                                                 MAX_N * int_traits<TX>::max_value());
  static const int N_W = unsigned_bits_for_max(MAX_N);
  typedef ap_int<SUM_W> sum_t;
  assert(n >= 0 && n <= MAX_N);
  sum_t acc[C];
#pragma HLS array_partition variable = acc cyclic factor = LANES
#pragma HLS array_partition variable = x cyclic factor = LANES dim = 2
init:
  for (int c = 0; c < C; c++) {
#pragma HLS pipeline II = 1
    acc[c] = 0;
  }
tokens:
  for (int j = 0; j < n; j++) {
#pragma HLS loop_tripcount min = 0 max = MAX_N
  channels:
    for (int cb = 0; cb < C / LANES; cb++) {
#pragma HLS pipeline II = 1
      for (int l = 0; l < LANES; l++) {
#pragma HLS unroll
        acc[cb * LANES + l] += x[j][cb * LANES + l];
      }
    }
  }
divide:
  for (int c = 0; c < C; c++) {
#pragma HLS pipeline II = 1
    g[c] = (n == 0) ? TO(0) : saturate<TO>(scaled_div<FRAC_UP>(acc[c], ap_uint<N_W>(n)));
  }
}

// ---------------------------------------------------------------------------------------------
// selector MLP on whole-token rows (the heads side by side, the layout of the block GEMM engine)
// ---------------------------------------------------------------------------------------------
// z[r][c] = f[r][c] in the first half of every head slice, g[c] in the second half:
// [local, global] of every (token, head), g holding the global feature of head h in columns
// h*DH + DH/2 .. h*DH + DH - 1 (token_mean of f over the live tokens).  LANES divides DH/2.
template <
    int C,          // channels (H heads of DH)
    int DH,         // head width
    int MAX_N,      // compile-time maximum number of rows
    int LANES = 1,  // channels per cycle (divides DH / 2)
    typename T>     // feature type
void concat_global_rows(const T f[MAX_N][C], const T g[C], T z[MAX_N][C], int n) {
  static_assert(C % DH == 0 && DH % 2 == 0 && (DH / 2) % LANES == 0, "LANES must divide DH / 2");
#pragma HLS array_partition variable = f cyclic factor = LANES dim = 2
#pragma HLS array_partition variable = g cyclic factor = LANES
#pragma HLS array_partition variable = z cyclic factor = LANES dim = 2
  assert(n >= 0 && n <= MAX_N);
rows:
  for (int r = 0; r < n; r++) {
#pragma HLS loop_tripcount min = 0 max = MAX_N
  channels:
    for (int cb = 0; cb < C / LANES; cb++) {
#pragma HLS pipeline II = 1
      for (int l = 0; l < LANES; l++) {
#pragma HLS unroll
        const int c = cb * LANES + l;  // a lane group lies in one half of one head
        z[r][c] = (c % DH) < DH / 2 ? f[r][c] : g[c];
      }
    }
  }
}

// y[j*H + h][m] = a[j][h*W + m] for m < W: one row per (token, head) from whole-token rows
// (W = the per-head width of a layer's output; one (token, head) row per cycle).
template <
    int C,        // channels of a's rows (>= H * W)
    int H,        // heads
    int W,        // per-head width
    int MAX_N,    // rows of a
    int MAX_R,    // rows of y (>= MAX_N * H when full)
    typename T>   // element type
void head_rows(const T a[MAX_N][C], T y[MAX_R][W], int n) {
  static_assert(H * W <= C, "H * W channels must fit a row");
#pragma HLS array_partition variable = a cyclic factor = W dim = 2
#pragma HLS array_partition variable = y complete dim = 2
  assert(n >= 0 && n <= MAX_N && n * H <= MAX_R);
  int j = 0;
  int h = 0;
rows:
  for (int r = 0; r < n * H; r++) {
#pragma HLS loop_tripcount min = 0 max = MAX_N * H
#pragma HLS pipeline II = 1
    for (int m = 0; m < W; m++) {
#pragma HLS unroll
      y[r][m] = a[j][h * W + m];
    }
    if (h == H - 1) {
      h = 0;
      j++;
    } else {
      h++;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// keep_decision: keep iff sum_h w_h * delta_h >= tau (ties keep)
// ---------------------------------------------------------------------------------------------
template <
    int H,        // heads
    typename TW,  // head weight type (ap_uint<8>)
    typename TD>  // logit difference type (ap_int<8>)
struct keep_score {
  static const int W = product_sum_bits<TW, TD>(H, 0);  // intops.keep_decision_bits
  typedef ap_int<W> type;
};

template <
    int H,        // heads
    typename TW,  // head weight type
    typename TD>  // logit difference type
typename keep_score<H, TW, TD>::type keep_score_of(const TW w[H], const TD delta[H]) {
#pragma HLS inline
  typename keep_score<H, TW, TD>::type z = 0;
heads:
  for (int h = 0; h < H; h++) {
#pragma HLS unroll
    z += w[h] * delta[h];
  }
  return z;
}

template <
    int H,        // heads
    typename TW,  // head weight type
    typename TD,  // logit difference type
    typename TT>  // threshold type (width keep_score<H, TW, TD>::W)
bool keep_decision(const TW w[H], const TD delta[H], TT tau) {
#pragma HLS inline
  return keep_score_of<H>(w, delta) >= tau;
}

// ---------------------------------------------------------------------------------------------
// topk_decision: keep the k tokens with the largest score z; ties go to the lower token index;
// all tokens if k >= n, none if k <= 0 (intops.topk_decision on the live tokens).
// No sort and no n^2 comparisons: the k-th largest value t is found by bisection over the score
// range (W(TZ) passes counting z >= mid), then one pass counts z > t and one pass keeps z > t and
// the first k - #(z > t) tokens with z == t in token order.  Cost: (W(TZ) + 2) * n cycles.
// ---------------------------------------------------------------------------------------------
template <
    int MAX_N,    // compile-time maximum number of tokens
    typename TZ>  // score type (signed ap_int, keep_score<...>::type)
void topk_decision(const TZ z[MAX_N], int n, int k, bool keep[MAX_N]) {
  static const int ZW = int_traits<TZ>::width;
  typedef ap_int<ZW + 2> bound_t;  // holds min .. max + 1 and their midpoints
  assert(n >= 0 && n <= MAX_N);
  if (k <= 0 || k >= n) {
  all_or_none:
    for (int j = 0; j < n; j++) {
#pragma HLS loop_tripcount min = 0 max = MAX_N
#pragma HLS pipeline II = 1
      keep[j] = k > 0;
    }
    return;
  }
  // invariant: count(z >= lo) >= k > count(z >= hi); the range hi - lo = 2^ZW halves each step
  bound_t lo = int_traits<TZ>::min_value();
  bound_t hi = bound_t(int_traits<TZ>::max_value()) + 1;
bisect:
  for (int it = 0; it < ZW; it++) {
    const bound_t mid = (lo + hi) >> 1;
    int count = 0;
  count_ge:
    for (int j = 0; j < n; j++) {
#pragma HLS loop_tripcount min = 1 max = MAX_N
#pragma HLS pipeline II = 1
      if (z[j] >= mid) count++;
    }
    if (count >= k) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  const TZ t = TZ(lo);  // the k-th largest score
  int greater = 0;
count_gt:
  for (int j = 0; j < n; j++) {
#pragma HLS loop_tripcount min = 1 max = MAX_N
#pragma HLS pipeline II = 1
    if (z[j] > t) greater++;
  }
  int ties_left = k - greater;  // >= 1: tokens equal to t still to keep, in token order
decide:
  for (int j = 0; j < n; j++) {
#pragma HLS loop_tripcount min = 1 max = MAX_N
#pragma HLS pipeline II = 1
    bool kp = z[j] > t;
    if (z[j] == t && ties_left > 0) {
      kp = true;
      ties_left--;
    }
    keep[j] = kp;
  }
}

// ---------------------------------------------------------------------------------------------
// keep_prob: weight of a pruned token in the package token
// ---------------------------------------------------------------------------------------------
// The H sigmoid lookups are unrolled: HLS replicates a const table (ROM) to give H read ports.
template <
    int H,          // heads
    int FRAC_UP,    // f_out - f_sigma
    typename TP,    // output probability type (ap_uint<8>)
    typename TW,    // head weight type
    typename TD,    // logit difference type (sigmoid table input)
    typename TSIG>  // sigmoid table entry type
TP keep_prob(const TW w[H], const TD delta[H], const TSIG sigmoid_table[]) {
#pragma HLS inline
  static const int A_W = product_sum_bits<TW, TSIG>(H, 0);  // sum w*sigma (signed view)
  static const int W_W = unsigned_bits_for_max(H * int_traits<TW>::max_value());
  static const int SS_W = unsigned_bits_for_max(H * int_traits<TSIG>::max_value());
  ap_int<A_W> a = 0;
  ap_uint<W_W> wsum = 0;
  ap_uint<SS_W> ssum = 0;
heads:
  for (int h = 0; h < H; h++) {
#pragma HLS unroll
    TSIG sg = sigmoid<TSIG>(delta[h], sigmoid_table);
    a += w[h] * sg;
    wsum += w[h];
    ssum += sg;
  }
  if (wsum != 0) return saturate<TP>(scaled_div<FRAC_UP>(a, wsum));
  return saturate<TP>(scaled_div<FRAC_UP>(ap_int<SS_W + 1>(ssum), ap_uint<unsigned_bits_for_max(H)>(H)));
}

// ---------------------------------------------------------------------------------------------
// package token: shared accumulate / finish steps and a standalone kernel
// ---------------------------------------------------------------------------------------------
template <
    int MAX_N,    // compile-time maximum number of tokens
    typename TX,  // token type
    typename TP>  // keep probability type
struct package_widths {
  static const int ACC_W = product_sum_bits<TX, TP>(MAX_N, 0);  // sum p_j x_jc (and sum x_jc)
  static const int PSUM_W = unsigned_bits_for_max(MAX_N * int_traits<TP>::max_value());
  static const int N_W = unsigned_bits_for_max(MAX_N);
  typedef ap_int<ACC_W> acc_t;
  typedef ap_uint<PSUM_W> psum_t;
};

// pkg = 0 (count == 0), RNE(acc / psum) (psum > 0), RNE(acc / count) otherwise.  acc must have
// been accumulated with weight p_j if psum > 0 and weight 1 otherwise.
template <
    typename TX,  // token type (result)
    int AW,       // accumulator width
    int PW,       // probability-sum width
    int NW>       // count width
inline TX package_finish(ap_int<AW> acc, ap_uint<PW> psum, ap_uint<NW> count) {
#pragma HLS inline
  if (count == 0) return TX(0);
  ap_uint<imax(PW, NW)> den = (psum != 0) ? ap_uint<imax(PW, NW)>(psum) : ap_uint<imax(PW, NW)>(count);
  return TX(rounded_div(acc, den));  // a convex combination of the inputs: always in range
}

template <
    int C,        // channels per token
    int MAX_N,    // compile-time maximum number of tokens
    typename TX,  // token type
    typename TP>  // keep probability type
void package_token(const TX x[MAX_N][C], const TP p[MAX_N], const bool pruned[MAX_N], int n,
                   TX pkg[C]) {
  typedef package_widths<MAX_N, TX, TP> pw;
  assert(n >= 0 && n <= MAX_N);
  typename pw::psum_t psum = 0;
  ap_uint<pw::N_W> count = 0;
weights:
  for (int j = 0; j < n; j++) {
#pragma HLS loop_tripcount min = 0 max = MAX_N
#pragma HLS pipeline II = 1
    if (pruned[j]) {
      psum += p[j];
      count++;
    }
  }
  typename pw::acc_t acc[C];
init:
  for (int c = 0; c < C; c++) {
#pragma HLS pipeline II = 1
    acc[c] = 0;
  }
tokens:
  for (int j = 0; j < n; j++) {
#pragma HLS loop_tripcount min = 0 max = MAX_N
    const TP wt = (psum != 0) ? p[j] : TP(1);
  channels:
    for (int c = 0; c < C; c++) {
#pragma HLS pipeline II = 1
      if (pruned[j]) acc[c] += wt * x[j][c];
    }
  }
finish:
  for (int c = 0; c < C; c++) {
#pragma HLS pipeline II = 1
    pkg[c] = package_finish<TX>(acc[c], psum, count);
  }
}

// ---------------------------------------------------------------------------------------------
// token_select: the streaming two-pass token-select / package-merge unit
// ---------------------------------------------------------------------------------------------
// Pass 1 (n_patch cycles, one token per cycle with H-wide arithmetic): keep score and keep
// probability of every patch token; decision z >= tau, or (TOPK) the k largest scores by
// topk_decision ((W(z) + 2) * n_patch cycles more); total weight and count of the pruned ones.
// Pass 2 (one element per cycle): stream out the class token, the kept patches in order and the
// earlier package tokens, while accumulating the pruned ones with weight p_j (or 1 if all p_j = 0);
// finally the new package token.  Output: (2 + n_kept + n_pkg) * C elements, token-major.
template <
    int C,          // channels per token
    int H,          // heads
    int MAX_N,      // compile-time maximum number of live patch tokens
    int MAX_PKG,    // compile-time maximum number of earlier package tokens in the frame
    int KP_UP,      // keep probability: f_p - f_sigma
    bool TOPK,      // decision rule: false = threshold z >= tau, true = keep the top_k largest z
    typename TP,    // keep probability type (ap_uint<8>)
    typename TX,    // token type (residual stream)
    typename TW,    // head weight type (ap_uint<8>)
    typename TD,    // logit difference type (ap_int<8>)
    typename TT,    // threshold type
    typename TSIG>  // sigmoid table entry type
void token_select(const TX frame[1 + MAX_N + MAX_PKG][C], int n_patch, int n_pkg,
                  const TW w[MAX_N][H], const TD delta[MAX_N][H], TT tau, int top_k,
                  const TSIG sigmoid_table[], hls::stream<TX>& out, bool keep[MAX_N],
                  int& n_kept) {
  typedef package_widths<MAX_N, TX, TP> pw;
  typedef typename keep_score<H, TW, TD>::type score_t;
  assert(n_patch >= 0 && n_patch <= MAX_N);
  assert(n_pkg >= 0 && n_pkg <= MAX_PKG);
  TP prob[MAX_N];
  score_t z[MAX_N];
  typename pw::psum_t psum = 0;
  ap_uint<pw::N_W> n_pruned = 0;
  int kept = 0;
#pragma HLS array_partition variable = w complete dim = 2
#pragma HLS array_partition variable = delta complete dim = 2

score:
  for (int j = 0; j < n_patch; j++) {
#pragma HLS loop_tripcount min = 0 max = MAX_N
#pragma HLS pipeline II = 1
    z[j] = keep_score_of<H>(w[j], delta[j]);
    prob[j] = keep_prob<H, KP_UP, TP>(w[j], delta[j], sigmoid_table);
    if (!TOPK) keep[j] = z[j] >= tau;
  }
  if (TOPK) topk_decision<MAX_N>(z, n_patch, top_k, keep);
tally:
  for (int j = 0; j < n_patch; j++) {
#pragma HLS loop_tripcount min = 0 max = MAX_N
#pragma HLS pipeline II = 1
    if (keep[j]) {
      kept++;
    } else {
      psum += prob[j];
      n_pruned++;
    }
  }
  n_kept = kept;

  typename pw::acc_t acc[C];
init:
  for (int c = 0; c < C; c++) {
#pragma HLS pipeline II = 1
    acc[c] = 0;
  }
  const bool weighted = psum != 0;
  const int n_in = 1 + n_patch + n_pkg;
emit:
  for (int t = 0; t < n_in; t++) {
#pragma HLS loop_tripcount min = 1 max = 1 + MAX_N + MAX_PKG
    const bool is_patch = t >= 1 && t <= n_patch;
    const bool pass = !is_patch || keep[t - 1];
    const TP wt = (is_patch && weighted) ? prob[t - 1] : TP(1);
  channels:
    for (int c = 0; c < C; c++) {
#pragma HLS pipeline II = 1
      const TX v = frame[t][c];
      if (pass) {
        out.write(v);
      } else {
        acc[c] += wt * v;
      }
    }
  }
new_package:
  for (int c = 0; c < C; c++) {
#pragma HLS pipeline II = 1
    out.write(package_finish<TX>(acc[c], psum, n_pruned));
  }
}

// ---------------------------------------------------------------------------------------------
// token_select_frame: the token-select / package-merge unit in place, LANES channels per cycle
// ---------------------------------------------------------------------------------------------
// Same decisions, keep probabilities and package token as token_select, but the output tokens
// [class, kept patches in order, package_0 .. package_{k-1}, new package] are written back into
// the frame rows 0 .. 1 + n_kept + n_pkg (no stream, no copy).  In place is safe: output row
// t_out <= input row t, so a row is always read before it is overwritten.  Cost: n_patch cycles
// (scores, + topk_decision) + n_patch (tally) + C/LANES (init) + (1 + n_patch + n_pkg) * C/LANES
// (compaction, one flattened pipelined loop) + C/LANES (new package); LANES multipliers p_j * x.
template <
    int C,          // channels per token
    int H,          // heads
    int MAX_N,      // compile-time maximum number of live patch tokens
    int MAX_PKG,    // compile-time maximum number of package tokens in the frame (after this one)
    int KP_UP,      // keep probability: f_p - f_sigma
    bool TOPK,      // decision rule: false = threshold z >= tau, true = keep the top_k largest z
    typename TP,    // keep probability type (ap_uint<8>)
    int LANES = 1,  // channels per cycle of the compaction and package accumulation (divides C)
    typename TX,    // token type (residual stream)
    typename TW,    // head weight type (ap_uint<8>)
    typename TD,    // logit difference type (ap_int<8>)
    typename TT,    // threshold type
    typename TSIG>  // sigmoid table entry type
void token_select_frame(TX frame[1 + MAX_N + MAX_PKG][C], int n_patch, int n_pkg,
                        const TW w[MAX_N][H], const TD delta[MAX_N][H], TT tau, int top_k,
                        const TSIG sigmoid_table[], bool keep[MAX_N], int& n_kept) {
  typedef package_widths<MAX_N, TX, TP> pw;
  typedef typename keep_score<H, TW, TD>::type score_t;
  static_assert(C % LANES == 0, "LANES must divide the channels");
  static const int CB = C / LANES;
  assert(n_patch >= 0 && n_patch <= MAX_N);
  assert(n_pkg >= 0 && n_pkg < MAX_PKG);  // room for the new package token
  TP prob[MAX_N];
  score_t z[MAX_N];
  typename pw::psum_t psum = 0;
  ap_uint<pw::N_W> n_pruned = 0;
  int kept = 0;
#pragma HLS array_partition variable = w complete dim = 2
#pragma HLS array_partition variable = delta complete dim = 2
#pragma HLS array_partition variable = frame cyclic factor = LANES dim = 2

score:
  for (int j = 0; j < n_patch; j++) {
#pragma HLS loop_tripcount min = 0 max = MAX_N
#pragma HLS pipeline II = 1
    z[j] = keep_score_of<H>(w[j], delta[j]);
    prob[j] = keep_prob<H, KP_UP, TP>(w[j], delta[j], sigmoid_table);
    if (!TOPK) keep[j] = z[j] >= tau;
  }
  if (TOPK) topk_decision<MAX_N>(z, n_patch, top_k, keep);
tally:
  for (int j = 0; j < n_patch; j++) {
#pragma HLS loop_tripcount min = 0 max = MAX_N
#pragma HLS pipeline II = 1
    if (keep[j]) {
      kept++;
    } else {
      psum += prob[j];
      n_pruned++;
    }
  }
  n_kept = kept;

  typename pw::acc_t acc[C];
#pragma HLS array_partition variable = acc cyclic factor = LANES
init:
  for (int cb = 0; cb < CB; cb++) {
#pragma HLS pipeline II = 1
    for (int l = 0; l < LANES; l++) {
#pragma HLS unroll
      acc[cb * LANES + l] = 0;
    }
  }
  const bool weighted = psum != 0;
  const int n_in = 1 + n_patch + n_pkg;
  int t = 0;      // input row
  int cb = 0;     // lane group within the row
  int t_out = 0;  // output row (<= t)
compact:
  for (int it = 0; it < n_in * CB; it++) {
#pragma HLS loop_tripcount min = CB max = (1 + MAX_N + MAX_PKG) * CB
#pragma HLS pipeline II = 1
#pragma HLS dependence variable = frame inter false
    const bool is_patch = t >= 1 && t <= n_patch;
    const bool pass = !is_patch || keep[t - 1];
    const TP wt = (is_patch && weighted) ? prob[t - 1] : TP(1);
    for (int l = 0; l < LANES; l++) {
#pragma HLS unroll
      const int c = cb * LANES + l;
      const TX v = frame[t][c];
      if (pass) {
        frame[t_out][c] = v;
      } else {
        acc[c] += wt * v;
      }
    }
    if (cb == CB - 1) {
      cb = 0;
      t++;
      if (pass) t_out++;
    } else {
      cb++;
    }
  }
new_package:
  for (int cb2 = 0; cb2 < CB; cb2++) {
#pragma HLS pipeline II = 1
    for (int l = 0; l < LANES; l++) {
#pragma HLS unroll
      const int c = cb2 * LANES + l;
      frame[t_out][c] = package_finish<TX>(acc[c], psum, n_pruned);
    }
  }
}

}  // namespace spvit

#endif  // SPVIT_TOKEN_SELECT_H
