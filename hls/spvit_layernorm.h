// spvit_layernorm.h -- integer LayerNorm of one token (HLS face of intops.int_layernorm).
//
// Over C channels, input x (W(TX) bits, frac f_x), gamma (frac f_g), beta (frac f_g + f_n):
//   S = sum x_i,  Q = sum x_i^2                         one pass over the token
//   V = C * (C*Q - S^2) + eps_int                      (= sum_i d_i^2 + eps_int, d_i = C*x_i - S)
//   V == 0: n_i = 0
//   else:   L = bitlen(V), k = ceil((L - M)/2), m = V >> 2k (V << -2k if k < 0), 2^(M-2) <= m < 2^M
//           t = T[m - 2^(M-2)]                          rsqrt table, uint16, 3*2^(M-2) entries
//           n_i = sat_norm( RNE( d_i * t / 2^(R + k - f_n) ) )           int16, frac f_n
//   y_i = requantize( gamma_i * n_i + beta_i, f_g + f_n - f_out, TY )
//
// Two passes over the token: statistics (C/LANES cycles), then normalise + affine (C/LANES
// cycles); LANES channels per cycle (template parameter, default 1).
// The table T and the constants eps_int, R come from intops.layernorm_params (one table per C).
#ifndef SPVIT_LAYERNORM_H
#define SPVIT_LAYERNORM_H

#include <cassert>

#include "spvit_requant.h"

namespace spvit {

// Run-time constants of one LayerNorm (intops.layernorm_params and the formats).
struct layernorm_cfg {
  unsigned long long eps_int;  // RNE(eps * C^3 * 2^(2 f_x)), added to V
  int rsqrt_shift;             // R: T[j] ~ 2^R * sqrt(C) / sqrt(m_j + 1/2)
  int out_shift;               // f_g + f_n - f_out
};

// Exact register widths of a LayerNorm over C channels of TX (intops.layernorm_params).
template <
    int C,        // channels
    typename TX>  // input type
struct layernorm_widths {
  static constexpr long long lo() { return int_traits<TX>::min_value(); }
  static constexpr long long hi() { return int_traits<TX>::max_value(); }
  static constexpr unsigned long long rng() { return (unsigned long long)(hi() - lo()); }
  static constexpr unsigned long long max_sq() {
    return (unsigned long long)cmax(lo() * lo(), hi() * hi());
  }
  static const int SUM_W = signed_bits_for_range(C * lo(), C * hi());  // S
  static const int SQ_W = unsigned_bits_for_max(C * max_sq());         // Q
  static const int CQ_W = unsigned_bits_for_max((unsigned long long)C * C * max_sq());  // C*Q
  static const int DEV_W =
      signed_bits_for_range(-(long long)((C - 1) * rng()), (long long)((C - 1) * rng()));  // d_i
  // V without eps: C^3 * rng^2 / 4 (sum of squared deviations of C values within one range)
  static constexpr unsigned long long var_data_max() {
    return ((unsigned long long)C * C * C * rng() * rng()) / 4;
  }
  static const int VAR_DATA_W = unsigned_bits_for_max(var_data_max());
};

// LayerNorm of one token.
template <
    int C,          // channels (normalised dimension)
    int M_BITS,     // rsqrt mantissa bits M (10 default; table has 3*2^(M-2) entries)
    int VAR_W,      // width of V = sum d^2 + eps_int (intops.layernorm_params(...).var_bits)
    int NORM_FRAC,  // frac of the normalised value n (10 for intops.DEFAULT_NORM_FMT)
    typename TN,    // normalised-value type (ap_int<16> for DEFAULT_NORM_FMT)
    int LANES = 1,  // channels per cycle in both passes (divides C)
    int LD = C,     // elements of the x / y rows; the token is columns col0 .. col0+C-1 of them
    typename TX,    // input type (residual stream, ap_int<16>)
    typename TG,    // gamma type (ap_int<8>, frac f_g)
    typename TB,    // beta type (ap_int<32>, frac f_g + f_n)
    typename TT,    // rsqrt table entry type (ap_uint<16>)
    typename TY>    // output type (ap_int<8>)
void layernorm(const TX x[LD], const TG gamma[C], const TB beta[C], TY y[LD], const TT rsqrt_table[],
               const layernorm_cfg& cfg, int col0 = 0) {
  typedef layernorm_widths<C, TX> wd;
  static_assert(C % LANES == 0, "LANES must divide the channels");
  static_assert(LD >= C && LD % LANES == 0, "LD must be >= C and a multiple of LANES");
  assert(col0 >= 0 && col0 + C <= LD && col0 % LANES == 0);
  static_assert(3 * bit_length(C) + 2 * int_traits<TX>::width <= 64,
                "C^3 * range^2 must fit 64 bits for the width proofs");
  static_assert(VAR_W >= wd::VAR_DATA_W, "VAR_W too narrow for sum d^2 (intops.layernorm_params)");
  static_assert(VAR_W <= 62, "V wider than 62 bits: narrow the input (intops raises too)");
  static_assert(VAR_W >= M_BITS, "V must be at least as wide as the mantissa");
  static_assert(M_BITS >= 3 && M_BITS <= 12, "mant_bits must be in 3..12 (intops)");
  static const int TT_W = int_traits<TT>::width;
  static const int TG_W = int_traits<TG>::width;
  static const int TN_W = int_traits<TN>::width;
  static const int TB_W = int_traits<TB>::width;
  static const int AFF_W = imax(TG_W + TN_W, TB_W) + 1;  // gamma*n + beta, exact
  typedef ap_int<wd::SUM_W> sum_t;
  typedef ap_uint<wd::SQ_W> sq_t;
  typedef ap_uint<VAR_W> var_t;
  typedef ap_int<wd::DEV_W> dev_t;
  assert(cfg.eps_int <= ((VAR_W >= 62 ? ~0ULL >> 2 : (1ULL << VAR_W) - 1) - wd::var_data_max()));

#pragma HLS array_partition variable = x cyclic factor = LANES
#pragma HLS array_partition variable = gamma cyclic factor = LANES
#pragma HLS array_partition variable = beta cyclic factor = LANES
#pragma HLS array_partition variable = y cyclic factor = LANES
  // pass 1: S and Q (exact integer sums: the lane order does not change them)
  sum_t s = 0;
  sq_t q = 0;
stats:
  for (int ib = 0; ib < C / LANES; ib++) {
#pragma HLS pipeline II = 1
    sum_t s_part = 0;
    sq_t q_part = 0;
    for (int l = 0; l < LANES; l++) {
#pragma HLS unroll
      const int i = ib * LANES + l;
      s_part += x[col0 + i];
      q_part += sq_t(x[col0 + i] * x[col0 + i]);
    }
    s += s_part;
    q += q_part;
  }
  ap_uint<wd::CQ_W> cq = ap_uint<wd::CQ_W>(q) * C;
  ap_uint<2 * wd::SUM_W> s2 = ap_uint<2 * wd::SUM_W>(s * s);
  var_t diff = var_t(cq - s2);  // C * sum (x - mean)^2 * ... >= 0, <= var_data_max / C
  var_t v = var_t(diff * C) + var_t(cfg.eps_int);

  // rsqrt of V: bit length, even exponent 2k, mantissa m in [2^(M-2), 2^M), table
  int len = 0;
bitlen:
  for (int b = 0; b < VAR_W; b++) {
#pragma HLS unroll
    if (v[b]) len = b + 1;
  }
  const int t2 = len - M_BITS + 1;
  const int k = t2 >= 0 ? t2 / 2 : -((-t2 + 1) / 2);  // floor((L - M + 1) / 2) = ceil((L - M) / 2)
  var_t mant_wide = k >= 0 ? var_t(v >> (2 * k)) : var_t(v << (-2 * k));
  ap_uint<M_BITS> mant = mant_wide;
  ap_uint<M_BITS> idx = mant - (1 << (M_BITS - 2));
  TT t = (v == 0) ? TT(0) : rsqrt_table[idx];
  const int norm_shift = cfg.rsqrt_shift + k - NORM_FRAC;

  // pass 2: n_i = sat(RNE(d_i * t >> shift)); y_i = requantize(gamma_i * n_i + beta_i)
normalise:
  for (int ib = 0; ib < C / LANES; ib++) {
#pragma HLS pipeline II = 1
    for (int l = 0; l < LANES; l++) {
#pragma HLS unroll
      const int i = ib * LANES + l;
      dev_t d = dev_t(C * x[col0 + i] - s);
      ap_int<wd::DEV_W + TT_W + 1> prod = d * t;
      TN n = requantize<TN>(prod, norm_shift);
      ap_int<AFF_W> aff = ap_int<AFF_W>(gamma[i] * n) + beta[i];
      y[col0 + i] = requantize<TY>(aff, cfg.out_shift);
    }
  }
}

// LayerNorm of every live token of a frame buffer.
template <
    int C,          // channels (normalised dimension)
    int MAX_N,      // compile-time maximum number of tokens
    int M_BITS,     // rsqrt mantissa bits
    int VAR_W,      // width of V
    int NORM_FRAC,  // frac of the normalised value
    typename TN,    // normalised-value type
    int LANES = 1,  // channels per cycle (divides C)
    typename TX,    // input type
    typename TG,    // gamma type
    typename TB,    // beta type
    typename TT,    // rsqrt table entry type
    typename TY>    // output type
void layernorm_frame(const TX x[MAX_N][C], const TG gamma[C], const TB beta[C], TY y[MAX_N][C],
                     int n_tokens, const TT rsqrt_table[], const layernorm_cfg& cfg) {
  assert(n_tokens >= 0 && n_tokens <= MAX_N);
tokens:
  for (int n = 0; n < n_tokens; n++) {
#pragma HLS loop_tripcount min = 0 max = MAX_N
    layernorm<C, M_BITS, VAR_W, NORM_FRAC, TN, LANES>(x[n], gamma, beta, y[n], rsqrt_table, cfg);
  }
}

// LayerNorm over each of the H head slices (DH channels) of the live tokens of a frame:
// y[j][h*DH ..] = layernorm(x[ROW0 + j][h*DH ..]) for j < n_tokens, h < H (the token selector's
// per-head LayerNorm, without splitting the frame into per-head rows).
template <
    int DH,         // channels per head (normalised dimension)
    int H,          // heads (rows have H * DH channels)
    int MAX_T,      // rows of x
    int MAX_N,      // rows of y
    int ROW0,       // first row of x (1: the patch tokens behind the class token)
    int M_BITS,     // rsqrt mantissa bits
    int VAR_W,      // width of V
    int NORM_FRAC,  // frac of the normalised value
    typename TN,    // normalised-value type
    int LANES = 1,  // channels per cycle (divides DH)
    typename TX,    // input type
    typename TG,    // gamma type
    typename TB,    // beta type
    typename TT,    // rsqrt table entry type
    typename TY>    // output type
void layernorm_heads(const TX x[MAX_T][H * DH], const TG gamma[DH], const TB beta[DH],
                     TY y[MAX_N][H * DH], int n_tokens, const TT rsqrt_table[], const layernorm_cfg& cfg) {
  assert(n_tokens >= 0 && n_tokens <= MAX_N && ROW0 + n_tokens <= MAX_T);
tokens:
  for (int n = 0; n < n_tokens; n++) {
#pragma HLS loop_tripcount min = 0 max = MAX_N
  heads:
    for (int h = 0; h < H; h++) {
      layernorm<DH, M_BITS, VAR_W, NORM_FRAC, TN, LANES, H * DH>(x[ROW0 + n], gamma, beta, y[n], rsqrt_table,
                                                                 cfg, h * DH);
    }
  }
}

}  // namespace spvit

#endif  // SPVIT_LAYERNORM_H
