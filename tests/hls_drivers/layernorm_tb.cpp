// C-simulation driver: spvit_layernorm.h (layernorm_frame) in six instantiations; every case is
// also run through layernorm_heads (3 heads of C channels side by side, frame rows from 1) and
// must give the same integers per head slice.
// Input <variant>_table: the rsqrt table (3 * 2^(M-2) entries).
// Input <variant>_in: [num_cases, then per case: n, eps_int, R, out_shift, gamma[C], beta[C], x[n][C]].
// Output <variant>_out: y[n][C] of every case, concatenated.
#include <ap_int.h>

#include "spvit_layernorm.h"
#include "spvit_tb_io.h"

using namespace spvit;
using spvit_tb::array_t;

template <int C, int MAX_N, int M_BITS, int LANES, typename TX>
static void run_variant(const std::string& dir, const std::string& name) {
  // V holds sum d^2 plus an eps_int up to the data bound (one extra bit)
  static const int VAR_W = layernorm_widths<C, TX>::VAR_DATA_W + 1;
  static const int TABLE_N = 3 << (M_BITS - 2);
  static ap_uint<16> table[TABLE_N];
  {
    const array_t t = spvit_tb::read_array(dir, name + "_table");
    if (t.size() != (size_t)TABLE_N) std::exit(5);
    spvit_tb::Cursor c(t);
    c.fill(table, TABLE_N);
  }
  const array_t in = spvit_tb::read_array(dir, name + "_in");
  spvit_tb::Cursor c(in);
  array_t out;
  static TX x[MAX_N][C];
  static ap_int<8> gamma[C];
  static ap_int<32> beta[C];
  static ap_int<8> y[MAX_N][C];
  static ap_int<8> y1[MAX_N][C];
  const long long cases = c.next();
  for (long long k = 0; k < cases; k++) {
    const int n = (int)c.next();
    layernorm_cfg cfg;
    cfg.eps_int = (unsigned long long)c.next();
    cfg.rsqrt_shift = (int)c.next();
    cfg.out_shift = (int)c.next();
    c.fill(gamma, C);
    c.fill(beta, C);
    for (int i = 0; i < n; i++) c.fill(x[i], C);
    layernorm_frame<C, MAX_N, M_BITS, VAR_W, 10, ap_int<16>, LANES>(x, gamma, beta, y, n, table, cfg);
    // the one-lane kernel gives the same integers
    layernorm_frame<C, MAX_N, M_BITS, VAR_W, 10, ap_int<16> >(x, gamma, beta, y1, n, table, cfg);
    for (int i = 0; i < n; i++)
      for (int j = 0; j < C; j++)
        if (y[i][j] != y1[i][j]) {
          std::fprintf(stderr, "%s: LANES=%d differs from LANES=1\n", name.c_str(), LANES);
          std::exit(6);
        }
    // layernorm_heads: row 1 + j, head h holds token (j * HN + h) % n; rows from 1 (class token)
    static const int HN = 3;
    static TX xh[1 + MAX_N][HN * C];
    static ap_int<8> yh[MAX_N][HN * C];
    for (int j = 0; j < n; j++)
      for (int h = 0; h < HN; h++)
        for (int i = 0; i < C; i++) xh[1 + j][h * C + i] = x[(j * HN + h) % n][i];
    layernorm_heads<C, HN, 1 + MAX_N, MAX_N, 1, M_BITS, VAR_W, 10, ap_int<16>, LANES>(xh, gamma, beta, yh, n,
                                                                                     table, cfg);
    for (int j = 0; j < n; j++)
      for (int h = 0; h < HN; h++)
        for (int i = 0; i < C; i++)
          if (yh[j][h * C + i] != y1[(j * HN + h) % n][i]) {
            std::fprintf(stderr, "%s: layernorm_heads differs from layernorm_frame\n", name.c_str());
            std::exit(8);
          }
    for (int i = 0; i < n; i++)
      for (int j = 0; j < C; j++) out.push_back((long long)y[i][j]);
  }
  if (!c.done()) std::exit(5);
  spvit_tb::write_array(dir, name + "_out", out);
}

int main(int argc, char** argv) {
  const std::string dir = spvit_tb::io_dir(argc, argv);
  // LANES channels per cycle (the outputs are also checked against LANES = 1)
  run_variant<192, 4, 10, 16, ap_int<16> >(dir, "c192");  // DeiT-T embedding, int16 residual
  run_variant<768, 2, 10, 64, ap_int<16> >(dir, "c768");  // DeiT-B embedding: 59-bit variance
  run_variant<16, 6, 8, 4, ap_int<8> >(dir, "c16");       // selector head dim, int8, 8-bit mantissa
  run_variant<12, 3, 9, 3, ap_int<16> >(dir, "c12");      // C not a power of two, 3 lanes
  run_variant<1, 3, 10, 1, ap_int<8> >(dir, "c1");        // one channel: d = 0 always
  run_variant<2, 3, 10, 2, ap_int<8> >(dir, "c2");        // tiny V: negative exponent k, V << -2k
  return 0;
}
