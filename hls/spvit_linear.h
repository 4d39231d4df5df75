// spvit_linear.h -- GEMM engine with a requantising epilogue (HLS face of intops.int_linear).
//
//   acc[n][m] = bias[m] + sum_k x[n][k] * w[m][k]               exact (width proved below)
//   a = residual_align (f_x + f_w - f_r), optional RESIDUAL:
//     a >= 0: acc += residual[n][m] << a
//     a <  0: acc  = (acc << -a) + residual[n][m],  shift -= a    (sum has the residual's frac)
//   y[n][m]   = requantize(acc, shift, TY)                        RNE shift + saturation
//   y[n][m]   = gelu_table[y[n][m]]                               (optional, GELU)
//
// Weight-stationary over a frame: the weights are fetched one tile of PE output rows x K inputs
// at a time (from an array / m_axi pointer, or from an hls::stream in row-major order) and each
// tile is used for every live token of the frame, as in HeatViT-style accelerators (ARCHITECTURE
// §5).  Per cycle the engine does PE x SIMD multiply-accumulates and loads one PE x SIMD slice of
// the next tile into the other half of a double buffer, so a tile costs max(n, 1) * K/SIMD
// cycles and a frame of n tokens K/SIMD * (1 + (M/PE - 1) * max(n, 1) + n) (linear_cycles).  The
// slice rate assumes PE*SIMD weights per cycle: array-partitioned ROMs, or an m_axi port that
// wide (a narrower DDR port stalls the load; spvit_fpga/hls/estimate.py bounds it by the DDR rate).
// The token count n is data-dependent, <= MAX_N.
//
// Classifier (intops out_fmt=None): pass TY = TACC and shift = 0, the output is the accumulator.
#ifndef SPVIT_LINEAR_H
#define SPVIT_LINEAR_H

#include <cassert>

#include <hls_stream.h>

#include "spvit_requant.h"
#include "spvit_tables.h"

namespace spvit {

namespace detail {

// Weight sources: a pointer (array or m_axi, row-major [M][K]) or a stream (same order).
// load_slice fetches slice `sl` (0 <= sl < K/SIMD) of output tile `nf` (PE rows x K) into `buf`,
// PE x SIMD weights in one call (one pipelined cycle).
//   pointer: rows nf*PE .. nf*PE+PE-1, columns sl*SIMD .. sl*SIMD+SIMD-1 -- the lanes of the
//            cyclic partition of `buf` (array-partitioned ROM reads; a wide m_axi reads the PE
//            row segments of SIMD contiguous weights)
//   stream:  the next PE*SIMD weights of the row-major tile (the stream order is unchanged)
template <int K, int SIMD, int PE, typename TW>
inline void load_slice(const TW* src, TW buf[PE][K], int nf, int sl) {
#pragma HLS inline
  for (int pe = 0; pe < PE; pe++) {
#pragma HLS unroll
    for (int s = 0; s < SIMD; s++) {
#pragma HLS unroll
      buf[pe][sl * SIMD + s] = src[(nf * PE + pe) * K + sl * SIMD + s];
    }
  }
}
template <int K, int SIMD, int PE, typename TW>
inline void load_slice(hls::stream<TW>& src, TW buf[PE][K], int /*nf*/, int sl) {
#pragma HLS inline
  for (int j = 0; j < PE * SIMD; j++) {
#pragma HLS unroll
    const int idx = sl * PE * SIMD + j;
    buf[idx / K][idx % K] = src.read();
  }
}

// Element type of a weight source.
template <typename WSRC>
struct weight_type;
template <typename TW>
struct weight_type<const TW*> {
  typedef TW type;
};
template <typename TW>
struct weight_type<hls::stream<TW> > {
  typedef TW type;
};

template <
    int K,              // fan-in: input channels per token
    int M,              // output channels
    int SIMD,           // input channels multiplied per cycle per PE (divides K)
    int PE,             // output channels computed in parallel (divides M)
    int MAX_N,          // compile-time maximum number of tokens
    bool GELU,          // apply the GELU table to the requantised output
    bool RESIDUAL,      // add the aligned residual to the accumulator before rounding
    int RES_ALIGN_MIN,  // smallest residual_align the epilogue sum is sized for (<= 0)
    int RES_ALIGN_MAX,  // largest residual_align the epilogue sum is sized for (>= 0)
    typename TACC,      // accumulator type (ap_int); must hold the worst case (static_assert)
    typename WSRC,      // weight source: const TW* or hls::stream<TW>
    typename TX,        // input activation type (ap_int<8>, ap_uint<8> for pixels)
    typename TB,        // bias type, at accumulator frac
    typename TR,        // residual type (residual stream format)
    typename TY>        // output type (also GELU table input and output)
void linear_impl(const TX x[MAX_N][K], WSRC& w, const TB bias[M], const TR residual[MAX_N][M],
                 TY y[MAX_N][M], int n_tokens, int shift, int residual_align, const TY gelu_table[]) {
  typedef typename weight_type<WSRC>::type TW;
  static_assert(K % SIMD == 0, "SIMD must divide the fan-in K");
  static_assert(M % PE == 0, "PE must divide the output channels M");
  static_assert(int_traits<TACC>::is_signed, "the accumulator must be a signed ap_int");
  // The accumulator holds every sum of K products plus the bias: no overflow for any input
  // (docs/integer_arithmetic.md §1.3, intops.accumulator_bits).
  static_assert(int_traits<TACC>::width >= product_sum_bits<TX, TW>(K, int_traits<TB>::width),
                "accumulator too narrow for K products plus bias (see intops.accumulator_bits)");
  static const int SF = K / SIMD;  // input folds per output tile
  static const int NF = M / PE;    // output tiles
  static_assert(RES_ALIGN_MIN <= 0 && RES_ALIGN_MAX >= 0, "the alignment range must contain 0");
  // Epilogue sum: accumulator plus the aligned residual, exact.
  static const int EPI_W =
      RESIDUAL ? imax(int_traits<TACC>::width + pos_part(-RES_ALIGN_MIN),
                      int_traits<TR>::width + RES_ALIGN_MAX) + 1
               : int_traits<TACC>::width;
  typedef ap_int<EPI_W> epi_t;
  assert(!RESIDUAL || (residual_align >= RES_ALIGN_MIN && residual_align <= RES_ALIGN_MAX));
  const int acc_up = residual_align < 0 ? -residual_align : 0;  // accumulator left shift
  const int res_up = residual_align > 0 ? residual_align : 0;   // residual left shift
  const int out_shift = RESIDUAL ? shift + acc_up : shift;
  assert(n_tokens >= 0 && n_tokens <= MAX_N);

#pragma HLS array_partition variable = x cyclic factor = SIMD dim = 2
#pragma HLS array_partition variable = y cyclic factor = PE dim = 2
#pragma HLS array_partition variable = residual cyclic factor = PE dim = 2
  // Double-buffered weight tile: tile nf+1 is loaded (one PE x SIMD slice per cycle, K/SIMD
  // cycles) while tile nf is used for every token, so a tile costs max(n, 1) * K/SIMD cycles.
  TW wbuf[2][PE][K];
#pragma HLS array_partition variable = wbuf complete dim = 1
#pragma HLS array_partition variable = wbuf complete dim = 2
#pragma HLS array_partition variable = wbuf cyclic factor = SIMD dim = 3
  TACC acc[PE];
#pragma HLS array_partition variable = acc complete

prefetch:
  for (int sl = 0; sl < SF; sl++) {
#pragma HLS pipeline II = 1
    load_slice<K, SIMD, PE>(w, wbuf[0], 0, sl);
  }
tiles:
  for (int nf = 0; nf < NF; nf++) {
    const int cur = nf & 1;
    const bool more = nf + 1 < NF;
    const int n_mac = n_tokens * SF;
    const int n_load = more ? SF : 0;
    const int steps = n_mac > n_load ? n_mac : n_load;
    int tok = 0;
    int sf = 0;
  compute:
    for (int it = 0; it < steps; it++) {
#pragma HLS loop_tripcount min = 0 max = MAX_N * SF
#pragma HLS pipeline II = 1
#pragma HLS dependence variable = wbuf inter false
      if (it < n_load) load_slice<K, SIMD, PE>(w, wbuf[1 - cur], nf + 1, it);
      if (it < n_mac) {
        for (int pe = 0; pe < PE; pe++) {
#pragma HLS unroll
          TACC partial = (sf == 0) ? TACC(bias[nf * PE + pe]) : acc[pe];
          for (int s = 0; s < SIMD; s++) {
#pragma HLS unroll
            partial += x[tok][sf * SIMD + s] * wbuf[cur][pe][sf * SIMD + s];
          }
          acc[pe] = partial;
        }
        if (sf == SF - 1) {
        epilogue:
          for (int pe = 0; pe < PE; pe++) {
#pragma HLS unroll
            const int m = nf * PE + pe;
            epi_t sum = acc[pe];
            if (RESIDUAL) sum = (sum << acc_up) + (epi_t(residual[tok][m]) << res_up);
            TY q = requantize<TY>(sum, out_shift);
            if (GELU) q = gelu<TY>(q, gelu_table);
            y[tok][m] = q;
          }
          sf = 0;
          tok++;
        } else {
          sf++;
        }
      }
    }
  }
}

}  // namespace detail

// GEMM engine, weights from an array or m_axi pointer `w` (row-major [M][K], int8 typically).
// Unused inputs: pass any array of the right type for `residual` (RESIDUAL=false) or
// `gelu_table` (GELU=false); they are not read.
template <
    int K,              // fan-in: input channels per token
    int M,              // output channels
    int SIMD,           // input channels multiplied per cycle per PE (divides K)
    int PE,             // output channels computed in parallel (divides M)
    int MAX_N,          // compile-time maximum number of tokens
    bool GELU,          // apply the GELU table (2^W(TY) entries) to the requantised output
    bool RESIDUAL,      // fused residual add before rounding (see the header comment)
    int RES_ALIGN_MIN,  // smallest residual_align supported (<= 0; sizes the epilogue sum)
    int RES_ALIGN_MAX,  // largest residual_align supported (>= 0; sizes the epilogue sum)
    typename TACC,      // accumulator type, e.g. ap_int<32>
    typename TX,        // input activation type
    typename TW,        // weight type (ap_int<8>)
    typename TB,        // bias type, at accumulator frac
    typename TR,        // residual type
    typename TY>        // output type
void linear(const TX x[MAX_N][K], const TW* w, const TB bias[M], const TR residual[MAX_N][M],
            TY y[MAX_N][M], int n_tokens, int shift, int residual_align, const TY gelu_table[]) {
  detail::linear_impl<K, M, SIMD, PE, MAX_N, GELU, RESIDUAL, RES_ALIGN_MIN, RES_ALIGN_MAX, TACC>(
      x, w, bias, residual, y, n_tokens, shift, residual_align, gelu_table);
}

// Same engine, weights streamed (PE*K values per tile, tiles in order: M*K values per frame).
template <
    int K,              // fan-in: input channels per token
    int M,              // output channels
    int SIMD,           // input channels multiplied per cycle per PE (divides K)
    int PE,             // output channels computed in parallel (divides M)
    int MAX_N,          // compile-time maximum number of tokens
    bool GELU,          // apply the GELU table to the requantised output
    bool RESIDUAL,      // fused residual add before rounding
    int RES_ALIGN_MIN,  // smallest residual_align supported (<= 0)
    int RES_ALIGN_MAX,  // largest residual_align supported (>= 0)
    typename TACC,      // accumulator type
    typename TX,        // input activation type
    typename TW,        // weight type
    typename TB,        // bias type, at accumulator frac
    typename TR,        // residual type
    typename TY>        // output type
void linear_stream(const TX x[MAX_N][K], hls::stream<TW>& w, const TB bias[M],
                   const TR residual[MAX_N][M], TY y[MAX_N][M], int n_tokens, int shift,
                   int residual_align, const TY gelu_table[]) {
  detail::linear_impl<K, M, SIMD, PE, MAX_N, GELU, RESIDUAL, RES_ALIGN_MIN, RES_ALIGN_MAX, TACC>(
      x, w, bias, residual, y, n_tokens, shift, residual_align, gelu_table);
}

// Cycle estimate of one call (pipelined loops at II=1, loop entry/exit not counted): the first
// tile's prefetch (K/SIMD cycles), then per tile max(n*K/SIMD, next tile's load K/SIMD).
template <
    int K,     // fan-in
    int M,     // output channels
    int SIMD,  // input channels per cycle
    int PE>    // output channels in parallel
constexpr long long linear_cycles(long long n_tokens) {
  return (long long)(K / SIMD) *
         (1 + (long long)(M / PE - 1) * (n_tokens > 1 ? n_tokens : 1) + n_tokens);
}

}  // namespace spvit

#endif  // SPVIT_LINEAR_H
