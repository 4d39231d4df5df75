// spvit_glue.h -- frame-buffer glue of a generated spvit_fpga HLS project.
//
// The arithmetic kernels live in the spvit kernel library (hls/spvit_*.h); this header only moves
// tokens between frame buffers and applies the library's requantisation primitives on whole
// frames.  Every function is the exact composition of library calls that the integer reference
// (spvit_fpga/ir/reference.py) performs, so the C-simulation stays bit-exact:
//
//   requant_frame     y = requantize(acc, shift) [then the GELU table]   (int_linear epilogue)
//   residual_frame    x = add(acc, x)  == int_linear's fused residual epilogue (see below)
//   accumulate_frame  s += t            (fan-in tiles of the shared C x C GEMM engine)
//   embed_frame       [class token, patch embeddings]
//   selector glue     per-(token, head) rows, the global feature, [local, global], delta gather
//
// Residual epilogue identity: int_linear(acc, residual r, align a = f_acc - f_r, shift s) rounds
// acc + (r << a) by s if a >= 0, else (acc << -a) + r by s - a.  spvit::add aligns both operands to
// F = max(f_acc, f_r) and rounds by F - f_out, which is the same sum and the same shift in both
// cases, so the GEMM engine can output raw accumulators and the residual is added here.
//
// Token counts are data-dependent (n <= MAX_N); loops carry loop_tripcount for the reports.
// Element-wise loops handle LANES channels per cycle (template parameter, default 1, must divide
// the channel count: static_assert); the frame buffers are partitioned cyclically by LANES.
#ifndef SPVIT_GLUE_H
#define SPVIT_GLUE_H

#include "spvit_add.h"
#include "spvit_requant.h"
#include "spvit_tables.h"
#include "spvit_token_select.h"

namespace spvit_glue {

// y[t][c] = requantize<TY>(a[t][c], shift), then the GELU table if GELU.
template <
    int C,          // channels
    int MAX_N,      // compile-time maximum number of tokens
    bool GELU,      // apply the table after requantisation
    int LANES = 1,  // channels per cycle (divides C)
    typename TA,    // accumulator type
    typename TY>    // output type (also the table's input and entry type)
void requant_frame(const TA a[MAX_N][C], TY y[MAX_N][C], int n, int shift, const TY table[]) {
  static_assert(C % LANES == 0, "LANES must divide the channels");
#pragma HLS array_partition variable = a cyclic factor = LANES dim = 2
#pragma HLS array_partition variable = y cyclic factor = LANES dim = 2
  for (int t = 0; t < n; t++) {
#pragma HLS loop_tripcount min = 1 max = MAX_N
    for (int cb = 0; cb < C / LANES; cb++) {
#pragma HLS pipeline II = 1
      for (int l = 0; l < LANES; l++) {
#pragma HLS unroll
        const int c = cb * LANES + l;
        TY q = spvit::requantize<TY>(a[t][c], shift);
        if (GELU) q = spvit::gelu<TY>(q, table);
        y[t][c] = q;
      }
    }
  }
}

// x[t][c] = add(a[t][c] (frac a_frac), x[t][c] (frac x_frac)) requantised to out_frac, in place.
template <
    int C,          // channels
    int MAX_N,      // compile-time maximum number of tokens
    int MAX_ALIGN,  // largest |a_frac - x_frac|
    int LANES = 1,  // channels per cycle (divides C)
    typename TA,    // accumulator type
    typename TX>    // residual stream type (input and output)
void residual_frame(const TA a[MAX_N][C], TX x[MAX_N][C], int n, int a_frac, int x_frac, int out_frac) {
  static_assert(C % LANES == 0, "LANES must divide the channels");
#pragma HLS array_partition variable = a cyclic factor = LANES dim = 2
#pragma HLS array_partition variable = x cyclic factor = LANES dim = 2
  for (int t = 0; t < n; t++) {
#pragma HLS loop_tripcount min = 1 max = MAX_N
    for (int cb = 0; cb < C / LANES; cb++) {
#pragma HLS pipeline II = 1
      for (int l = 0; l < LANES; l++) {
#pragma HLS unroll
        const int c = cb * LANES + l;
        x[t][c] = spvit::add<MAX_ALIGN, TX>(a[t][c], x[t][c], a_frac, x_frac, out_frac);
      }
    }
  }
}

// s[t][c] += u[t][c] (exact: the accumulator type holds the full fan-in).
template <
    int C,          // channels
    int MAX_N,      // compile-time maximum number of tokens
    int LANES = 1,  // channels per cycle (divides C)
    typename TA>    // accumulator type
void accumulate_frame(TA s[MAX_N][C], const TA u[MAX_N][C], int n) {
  static_assert(C % LANES == 0, "LANES must divide the channels");
#pragma HLS array_partition variable = s cyclic factor = LANES dim = 2
#pragma HLS array_partition variable = u cyclic factor = LANES dim = 2
  for (int t = 0; t < n; t++) {
#pragma HLS loop_tripcount min = 1 max = MAX_N
    for (int cb = 0; cb < C / LANES; cb++) {
#pragma HLS pipeline II = 1
      for (int l = 0; l < LANES; l++) {
#pragma HLS unroll
        const int c = cb * LANES + l;
        s[t][c] = s[t][c] + u[t][c];
      }
    }
  }
}

// x = [cls, e_0 .. e_{N-1}]
template <
    int C,          // channels
    int N,          // patch tokens
    int MAX_T,      // rows of the frame buffer
    int LANES = 1,  // channels per cycle (divides C)
    typename T>     // residual stream type
void embed_frame(const T cls[C], const T e[N][C], T x[MAX_T][C]) {
  static_assert(C % LANES == 0, "LANES must divide the channels");
#pragma HLS array_partition variable = cls cyclic factor = LANES
#pragma HLS array_partition variable = e cyclic factor = LANES dim = 2
#pragma HLS array_partition variable = x cyclic factor = LANES dim = 2
  for (int cb = 0; cb < C / LANES; cb++) {
#pragma HLS pipeline II = 1
    for (int l = 0; l < LANES; l++) {
#pragma HLS unroll
      x[0][cb * LANES + l] = cls[cb * LANES + l];
    }
  }
  for (int t = 0; t < N; t++) {
    for (int cb = 0; cb < C / LANES; cb++) {
#pragma HLS pipeline II = 1
      for (int l = 0; l < LANES; l++) {
#pragma HLS unroll
        x[1 + t][cb * LANES + l] = e[t][cb * LANES + l];
      }
    }
  }
}

// ------------------------------------------------------------------------------------------
// token selector glue: the live patch tokens are frame rows 1 .. n
// ------------------------------------------------------------------------------------------

// u[j] = head_mean(x[1 + j]) for j < n
template <
    int C,        // channels
    int H,        // heads
    int MAX_N,    // compile-time maximum number of live patch tokens
    int MAX_T,    // rows of the frame buffer
    int FRAC_UP,    // f_u - f_x
    int LANES = 1,  // channels per cycle (divides C/H)
    typename TX,    // residual stream type
    typename TU>    // head-mean type
void head_means(const TX x[MAX_T][C], TU u[MAX_N][H], int n) {
  for (int j = 0; j < n; j++) {
#pragma HLS loop_tripcount min = 0 max = MAX_N
    spvit::head_mean<C, H, FRAC_UP, LANES>(x[1 + j], u[j]);
  }
}

// xr[j*H + h][c] = x[1 + j][h*DH + c]: one row per (token, head)
template <
    int C,          // channels
    int H,          // heads
    int MAX_N,      // compile-time maximum number of live patch tokens
    int MAX_T,      // rows of the frame buffer
    int LANES = 1,  // channels per cycle (divides C/H)
    typename T>     // element type
void split_heads(const T x[MAX_T][C], T xr[MAX_N * H][C / H], int n) {
  static_assert((C / H) % LANES == 0, "LANES must divide the head width");
#pragma HLS array_partition variable = x cyclic factor = LANES dim = 2
#pragma HLS array_partition variable = xr cyclic factor = LANES dim = 2
  for (int j = 0; j < n; j++) {
#pragma HLS loop_tripcount min = 0 max = MAX_N
    for (int h = 0; h < H; h++) {
      for (int cb = 0; cb < C / H / LANES; cb++) {
#pragma HLS pipeline II = 1
        for (int l = 0; l < LANES; l++) {
#pragma HLS unroll
          const int c = cb * LANES + l;
          xr[j * H + h][c] = x[1 + j][h * (C / H) + c];
        }
      }
    }
  }
}

// g[h][c] = token_mean over the n live tokens of f[j*H + h][DH/2 + c] (the global feature)
template <
    int DH,         // head width
    int H,          // heads
    int MAX_N,      // compile-time maximum number of live patch tokens
    int FRAC_UP,    // f_g - f_f (0: same format)
    int LANES = 1,  // channels per cycle of the copy (divides DH/2)
    typename T>     // feature type
void global_feature(const T f[MAX_N * H][DH], T fg[MAX_N][DH / 2], T g[H][DH / 2], int n) {
  static_assert((DH / 2) % LANES == 0, "LANES must divide half the head width");
#pragma HLS array_partition variable = f cyclic factor = LANES dim = 2
#pragma HLS array_partition variable = fg cyclic factor = LANES dim = 2
  for (int h = 0; h < H; h++) {
    for (int j = 0; j < n; j++) {
#pragma HLS loop_tripcount min = 0 max = MAX_N
      for (int cb = 0; cb < DH / 2 / LANES; cb++) {
#pragma HLS pipeline II = 1
        for (int l = 0; l < LANES; l++) {
#pragma HLS unroll
          const int c = cb * LANES + l;
          fg[j][c] = f[j * H + h][DH / 2 + c];
        }
      }
    }
    spvit::token_mean<DH / 2, MAX_N, FRAC_UP, LANES>(fg, n, g[h]);
  }
}

// z[j*H + h] = [f[j*H + h][0 .. DH/2), g[h]]
template <
    int DH,         // head width
    int H,          // heads
    int MAX_N,      // compile-time maximum number of live patch tokens
    int LANES = 1,  // channels per cycle (divides DH/2)
    typename T>     // feature type
void concat_global(const T f[MAX_N * H][DH], const T g[H][DH / 2], T z[MAX_N * H][DH], int n) {
  static_assert((DH / 2) % LANES == 0, "LANES must divide half the head width");
#pragma HLS array_partition variable = f cyclic factor = LANES dim = 2
#pragma HLS array_partition variable = g cyclic factor = LANES dim = 2
#pragma HLS array_partition variable = z cyclic factor = LANES dim = 2
  for (int r = 0; r < n * H; r++) {
#pragma HLS loop_tripcount min = 0 max = MAX_N * H
    const int h = r % H;
    for (int cb = 0; cb < DH / LANES; cb++) {
#pragma HLS pipeline II = 1
      for (int l = 0; l < LANES; l++) {
#pragma HLS unroll
        const int c = cb * LANES + l;  // a lane group lies in one half (LANES divides DH/2)
        z[r][c] = c < DH / 2 ? f[r][c] : g[h][c - DH / 2];
      }
    }
  }
}

// delta[j][h] = dl[j*H + h][0]
template <
    int H,       // heads
    int MAX_N,   // compile-time maximum number of live patch tokens
    typename T>  // logit-difference type
void gather_delta(const T dl[MAX_N * H][1], T delta[MAX_N][H], int n) {
  for (int j = 0; j < n; j++) {
#pragma HLS loop_tripcount min = 0 max = MAX_N
    for (int h = 0; h < H; h++) {
#pragma HLS pipeline II = 1
      delta[j][h] = dl[j * H + h][0];
    }
  }
}

}  // namespace spvit_glue

#endif  // SPVIT_GLUE_H
