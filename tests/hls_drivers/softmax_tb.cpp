// C-simulation driver: spvit_softmax.h in four instantiations.
// Input <variant>_in: [num_cases, then per case: n, exp_table[EXP_N], x[n]].
// Output <variant>_out: p[n] of every case, concatenated.
#include <ap_int.h>

#include "spvit_softmax.h"
#include "spvit_tb_io.h"

using namespace spvit;
using spvit_tb::array_t;

template <int MAX_N, int EXP_N, int P_FRAC, typename TS, typename TP>
static void run_variant(const std::string& dir, const std::string& name) {
  const array_t in = spvit_tb::read_array(dir, name + "_in");
  spvit_tb::Cursor c(in);
  array_t out;
  static ap_uint<16> table[EXP_N];
  static TS x[MAX_N];
  static TP p[MAX_N];
  const long long cases = c.next();
  for (long long k = 0; k < cases; k++) {
    const int n = (int)c.next();
    c.fill(table, EXP_N);
    c.fill(x, n);
    softmax<MAX_N, EXP_N, P_FRAC>(x, p, n, table);
    for (int j = 0; j < n; j++) out.push_back((long long)p[j]);
  }
  if (!c.done()) std::exit(5);
  spvit_tb::write_array(dir, name + "_out", out);
}

int main(int argc, char** argv) {
  const std::string dir = spvit_tb::io_dir(argc, argv);
  run_variant<197, 256, 8, ap_int<8>, ap_uint<8> >(dir, "p8");       // DeiT: 197 tokens, 8-bit p
  run_variant<197, 256, 10, ap_int<8>, ap_uint<10> >(dir, "p10");    // 10-bit probabilities
  run_variant<32, 256, 7, ap_int<8>, ap_uint<8> >(dir, "f7");        // frac < bits: no saturation
  run_variant<16, 1024, 8, ap_int<12>, ap_uint<8> >(dir, "wide");    // 12-bit scores: k clamps at 1023
  return 0;
}
