// C-simulation driver: spvit_linear.h (GEMM engine + requantising epilogue) in six instantiations.
// Input <variant>_in: [num_cases, then per case: n, shift, residual_align, x[n][K], w[M][K], b[M],
// residual[n][M] (RESIDUAL only)].  Output <variant>_out: y[n][M] of every case, concatenated.
#include <ap_int.h>
#include <hls_stream.h>

#include "spvit_linear.h"
#include "spvit_tb_io.h"

using namespace spvit;
using spvit_tb::array_t;

template <int K, int M, int SIMD, int PE, int MAX_N, bool GELU, bool RESIDUAL, int RES_ALIGN_MIN,
          int RES_ALIGN_MAX, typename TACC, bool STREAM, typename TX, typename TW, typename TB, typename TR, typename TY>
static void run_variant(const std::string& dir, const std::string& name, const TY* gelu_table) {
  const array_t in = spvit_tb::read_array(dir, name + "_in");
  spvit_tb::Cursor c(in);
  array_t out;
  static TX x[MAX_N][K];
  static TW w[M * K];
  static TB b[M];
  static TR r[MAX_N][M];
  static TY y[MAX_N][M];
  static TY no_table[1];
  const long long cases = c.next();
  for (long long k = 0; k < cases; k++) {
    const int n = (int)c.next();
    const int shift = (int)c.next();
    const int align = (int)c.next();
    for (int i = 0; i < n; i++) c.fill(x[i], K);
    c.fill(w, M * K);
    c.fill(b, M);
    if (RESIDUAL)
      for (int i = 0; i < n; i++) c.fill(r[i], M);
    const TY* table = GELU ? gelu_table : no_table;
    if (STREAM) {
      hls::stream<TW> ws;
      for (int i = 0; i < M * K; i++) ws.write(w[i]);
      linear_stream<K, M, SIMD, PE, MAX_N, GELU, RESIDUAL, RES_ALIGN_MIN, RES_ALIGN_MAX, TACC>(
          x, ws, b, r, y, n, shift, align, table);
      if (!ws.empty()) {
        std::fprintf(stderr, "%s: weight stream not drained\n", name.c_str());
        std::exit(5);
      }
    } else {
      linear<K, M, SIMD, PE, MAX_N, GELU, RESIDUAL, RES_ALIGN_MIN, RES_ALIGN_MAX, TACC>(
          x, w, b, r, y, n, shift, align, table);
    }
    for (int i = 0; i < n; i++)
      for (int m = 0; m < M; m++) out.push_back((long long)y[i][m]);
  }
  if (!c.done()) {
    std::fprintf(stderr, "%s: trailing input\n", name.c_str());
    std::exit(5);
  }
  spvit_tb::write_array(dir, name + "_out", out);
}

// double-buffered tiles: K/SIMD prefetch + (M/PE - 1) x max(n, 1) x K/SIMD + n x K/SIMD cycles
static_assert(linear_cycles<24, 8, 4, 2>(9) == 6 + 3 * 9 * 6 + 9 * 6, "linear_cycles formula");
static_assert(linear_cycles<24, 8, 4, 2>(0) == 4 * 6, "linear_cycles: empty frame still loads");

int main(int argc, char** argv) {
  const std::string dir = spvit_tb::io_dir(argc, argv);
  static ap_int<8> gelu8[256];
  {
    const array_t g = spvit_tb::read_array(dir, "gelu_table");
    spvit_tb::Cursor c(g);
    c.fill(gelu8, 256);
  }
  typedef ap_int<8> i8;
  typedef ap_uint<8> u8;
  typedef ap_int<16> i16;
  typedef ap_int<30> b30;
  typedef ap_int<32> i32;
  typedef ap_int<33> i33;
  // plain int8 -> int8, array weights
  run_variant<24, 8, 4, 2, 9, false, false, 0, 0, i32, false, i8, i8, b30, i8, i8>(dir, "plain", gelu8);
  // fc1 + GELU table
  run_variant<24, 8, 4, 2, 9, true, false, 0, 0, i32, false, i8, i8, b30, i8, i8>(dir, "gelu", gelu8);
  // fc2 / projection with fused int16 residual (alignment -8..16), streamed weights
  run_variant<24, 8, 8, 4, 9, false, true, -8, 16, i32, true, i8, i8, b30, i16, i16>(dir, "residual", 0);
  // classifier: raw accumulator out (TY = TACC, shift 0), fully parallel SIMD
  run_variant<24, 10, 24, 5, 3, false, false, 0, 0, i32, false, i8, i8, b30, i32, i32>(dir, "raw", 0);
  // DeiT fan-in 768 (MLP fc2 of DeiT-T): worst-case accumulator
  run_variant<768, 4, 16, 4, 3, false, false, 0, 0, i32, false, i8, i8, b30, i8, i8>(dir, "wide", gelu8);
  // patch embedding: uint8 pixels, 32-bit bias -> exact width 33 bits, streamed weights
  run_variant<48, 6, 8, 3, 4, false, false, 0, 0, i33, true, u8, i8, i32, i16, i16>(dir, "pixels", 0);
  // selector delta row: int9 weights (w_keep - w_prune), 33-bit bias, 34-bit accumulator
  run_variant<16, 4, 4, 2, 5, false, false, 0, 0, ap_int<34>, false, i8, ap_int<9>, i33, i8, i8>(dir, "delta", 0);
  return 0;
}
