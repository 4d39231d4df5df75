// C-simulation driver: spvit_attention.h (attention_head) in five instantiations (QP 1, 8, 5, 16;
// EL 1, 8, 3; heads of a wider frame: LD > DH, the head at column col0 = LD - DH, the other columns
// of o must stay untouched).
// Input <variant>_in: [num_cases, then per case: n, score_shift, context_shift, exp_table[256],
// q[n][DH], k[n][DH], v[n][DH]].  Output <variant>_out: o[n][DH] of every case, concatenated.
#include <ap_int.h>

#include "spvit_attention.h"
#include "spvit_tb_io.h"

using namespace spvit;
using spvit_tb::array_t;

template <int MAX_N, int DH, int SIMD, int QP, typename TP, int EL = 1, int LD = DH>
static void run_variant(const std::string& dir, const std::string& name) {
  static const int COL0 = LD - DH;
  const array_t in = spvit_tb::read_array(dir, name + "_in");
  spvit_tb::Cursor c(in);
  array_t out;
  static ap_uint<16> table[256];
  static ap_int<8> q[MAX_N][LD], k[MAX_N][LD], v[MAX_N][LD], o[MAX_N][LD];
  const long long cases = c.next();
  for (long long t = 0; t < cases; t++) {
    const int n = (int)c.next();
    const int score_shift = (int)c.next();
    const int context_shift = (int)c.next();
    c.fill(table, 256);
    for (int i = 0; i < n; i++) c.fill(q[i] + COL0, DH);
    for (int i = 0; i < n; i++) c.fill(k[i] + COL0, DH);
    for (int i = 0; i < n; i++) c.fill(v[i] + COL0, DH);
    for (int i = 0; i < MAX_N; i++)
      for (int j = 0; j < LD; j++) o[i][j] = 77;  // sentinel: only the head's columns are written
    attention_head<MAX_N, DH, SIMD, 256, int_traits<TP>::width, ap_int<8>, TP, QP, EL, LD>(
        q, k, v, o, n, score_shift, context_shift, table, COL0);
    for (int i = 0; i < n; i++)
      for (int j = 0; j < DH; j++) out.push_back((long long)o[i][COL0 + j]);
    for (int i = 0; i < MAX_N; i++)
      for (int j = 0; j < LD; j++)
        if ((i >= n || j < COL0) && o[i][j] != 77) std::exit(7);
  }
  if (!c.done()) std::exit(5);
  spvit_tb::write_array(dir, name + "_out", out);
}

// NB = ceil(n/QP) blocks: (NB + 1) x n x DH/SIMD (scores of block b with the context of block b-1)
// + NB x ceil(n/EL) (exps) cycles
static_assert(attention_cycles<64, 32, 8>(197) == 26 * 197 * 2 + 25 * 197, "attention_cycles formula");
static_assert(attention_cycles<64, 32, 8, 8>(197) == 26 * 197 * 2 + 25 * 25, "attention_cycles formula, EL");
static_assert(attention_cycles<64, 32, 8, 8>(0) == 0, "attention_cycles formula, no tokens");

int main(int argc, char** argv) {
  const std::string dir = spvit_tb::io_dir(argc, argv);
  // QP query rows per block (n need not be a multiple of QP)
  run_variant<24, 16, 4, 1, ap_uint<8> >(dir, "small");
  run_variant<197, 64, 8, 8, ap_uint<8> >(dir, "deit");  // DeiT head: 197 tokens, d_h = 64
  run_variant<24, 8, 8, 5, ap_uint<10> >(dir, "p10");    // 10-bit probabilities, DH/SIMD = 1
  run_variant<197, 64, 32, 8, ap_uint<8>, 8, 384>(dir, "deit_frame");  // DeiT-S head 5 in the frame
  run_variant<24, 16, 8, 16, ap_uint<8>, 3, 48>(dir, "el3");  // EL does not divide n, QP > n
  return 0;
}
