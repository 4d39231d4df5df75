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

}  // namespace spvit

#endif  // SPVIT_ADD_H
