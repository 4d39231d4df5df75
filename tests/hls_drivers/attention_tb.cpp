// C-simulation driver: spvit_attention.h (attention_head) in three instantiations (QP 1, 8, 5).
// Input <variant>_in: [num_cases, then per case: n, score_shift, context_shift, exp_table[256],
// q[n][DH], k[n][DH], v[n][DH]].  Output <variant>_out: o[n][DH] of every case, concatenated.
#include <ap_int.h>

#include "spvit_attention.h"
#include "spvit_tb_io.h"

using namespace spvit;
using spvit_tb::array_t;

template <int MAX_N, int DH, int SIMD, int QP, typename TP>
static void run_variant(const std::string& dir, const std::string& name) {
  const array_t in = spvit_tb::read_array(dir, name + "_in");
  spvit_tb::Cursor c(in);
  array_t out;
  static ap_uint<16> table[256];
  static ap_int<8> q[MAX_N][DH], k[MAX_N][DH], v[MAX_N][DH], o[MAX_N][DH];
  const long long cases = c.next();
  for (long long t = 0; t < cases; t++) {
    const int n = (int)c.next();
    const int score_shift = (int)c.next();
    const int context_shift = (int)c.next();
    c.fill(table, 256);
    for (int i = 0; i < n; i++) c.fill(q[i], DH);
    for (int i = 0; i < n; i++) c.fill(k[i], DH);
    for (int i = 0; i < n; i++) c.fill(v[i], DH);
    attention_head<MAX_N, DH, SIMD, 256, int_traits<TP>::width, ap_int<8>, TP, QP>(
        q, k, v, o, n, score_shift, context_shift, table);
    for (int i = 0; i < n; i++)
      for (int j = 0; j < DH; j++) out.push_back((long long)o[i][j]);
  }
  if (!c.done()) std::exit(5);
  spvit_tb::write_array(dir, name + "_out", out);
}

// ceil(n/QP) blocks x n x (2 DH/SIMD + 1) cycles
static_assert(attention_cycles<64, 32, 8>(197) == 25 * 197 * 5, "attention_cycles formula");

int main(int argc, char** argv) {
  const std::string dir = spvit_tb::io_dir(argc, argv);
  // QP query rows per block (n need not be a multiple of QP)
  run_variant<24, 16, 4, 1, ap_uint<8> >(dir, "small");
  run_variant<197, 64, 8, 8, ap_uint<8> >(dir, "deit");  // DeiT head: 197 tokens, d_h = 64
  run_variant<24, 8, 8, 5, ap_uint<10> >(dir, "p10");    // 10-bit probabilities, DH/SIMD = 1
  return 0;
}
