// spvit_add.h -- residual add with one rounding (HLS face of intops.int_add).
//
//   F = max(f_a, f_b);  t = (a << (F - f_a)) + (b << (F - f_b))   exact
//   y = requantize(t, F - f_out, out)                             one rounding, saturation
//
// The alternative with one rounding less is the fused residual epilogue of spvit_linear.h.
// Fractions are run-time so one adder serves every residual add of a model; the exact sum is
// sized by the compile-time bound MAX_ALIGN on |f_a - f_b|.
#ifndef SPVIT_ADD_H
#define SPVIT_ADD_H

#include <cassert>

#include "spvit_requant.h"

namespace spvit {

template <
    int MAX_ALIGN,  // largest |a_frac - b_frac| the exact sum is sized for
    typename TO,    // output type (saturated)
    typename TA,    // first operand type
    typename TB>    // second operand type
inline TO add(TA a, TB b, int a_frac, int b_frac, int out_frac) {
#pragma HLS inline
  static const int SUM_W =
      imax(int_traits<TA>::width + 1, int_traits<TB>::width + 1) + MAX_ALIGN + 1;
  typedef ap_int<SUM_W> sum_t;
  const int f = a_frac > b_frac ? a_frac : b_frac;
  assert(f - a_frac <= MAX_ALIGN && f - b_frac <= MAX_ALIGN);
  sum_t t = (sum_t(a) << (f - a_frac)) + (sum_t(b) << (f - b_frac));
  return requantize<TO>(t, f - out_frac);
}

// Token-frame residual add: y[n][c] = add(a[n][c], b[n][c]) for n < n_tokens.
template <
    int C,          // channels per token
    int MAX_N,      // compile-time maximum number of tokens
    int MAX_ALIGN,  // largest |a_frac - b_frac|
    typename TO,    // output type
    typename TA,    // first operand type
    typename TB>    // second operand type
void add_frame(const TA a[MAX_N][C], const TB b[MAX_N][C], TO y[MAX_N][C], int n_tokens, int a_frac,
               int b_frac, int out_frac) {
  for (int n = 0; n < n_tokens; n++) {
#pragma HLS loop_tripcount min = 0 max = MAX_N
    for (int c = 0; c < C; c++) {
#pragma HLS pipeline II = 1
      y[n][c] = add<MAX_ALIGN, TO>(a[n][c], b[n][c], a_frac, b_frac, out_frac);
    }
  }
}

// Frame with a class token in front: x[0] = cls, x[1 + t][c] = add(a[t][c], b[t][c]) for t < N
// (the patch embedding: raw GEMM accumulators + position embedding, one rounding; the same integers
// as intops.int_linear's fused residual, see spvit_linear.h).  LANES channels per cycle.
template <
    int C,          // channels per token
    int N,          // tokens added (rows of b; frame rows 1 .. N)
    int MAX_A,      // rows of a (>= N)
    int MAX_T,      // rows of the frame x (>= N + 1)
    int MAX_ALIGN,  // largest |a_frac - b_frac|
    int LANES = 1,  // channels per cycle (divides C)
    typename TO,    // frame / class token type (output)
    typename TA,    // first operand type (accumulator)
    typename TB>    // second operand type (position embedding)
void embed_add(const TO cls[C], const TA a[MAX_A][C], const TB b[N][C], TO x[MAX_T][C], int a_frac,
               int b_frac, int out_frac) {
  static_assert(C % LANES == 0, "LANES must divide the channels");
  static_assert(MAX_A >= N && MAX_T >= N + 1, "buffers too small");
#pragma HLS array_partition variable = cls cyclic factor = LANES
#pragma HLS array_partition variable = a cyclic factor = LANES dim = 2
#pragma HLS array_partition variable = b cyclic factor = LANES dim = 2
#pragma HLS array_partition variable = x cyclic factor = LANES dim = 2
class_token:
  for (int cb = 0; cb < C / LANES; cb++) {
#pragma HLS pipeline II = 1
    for (int l = 0; l < LANES; l++) {
#pragma HLS unroll
      x[0][cb * LANES + l] = cls[cb * LANES + l];
    }
  }
tokens:
  for (int t = 0; t < N; t++) {
    for (int cb = 0; cb < C / LANES; cb++) {
#pragma HLS pipeline II = 1
      for (int l = 0; l < LANES; l++) {
#pragma HLS unroll
        const int c = cb * LANES + l;
        x[1 + t][c] = add<MAX_ALIGN, TO>(a[t][c], b[t][c], a_frac, b_frac, out_frac);
      }
    }
  }
}

}  // namespace spvit

#endif  // SPVIT_ADD_H
