// C-simulation driver: spvit_tables.h (GELU / sigmoid / generic 2^W-entry lookups), exhaustive
// over each input domain.  Tables come from intops (gelu_table, sigmoid_table).
#include <ap_int.h>

#include "spvit_tables.h"
#include "spvit_tb_io.h"

using namespace spvit;
using spvit_tb::array_t;

template <typename T, int N>
static void load_table(const std::string& dir, const char* name, T (&table)[N]) {
  const array_t v = spvit_tb::read_array(dir, name);
  if (v.size() != (size_t)N) {
    std::fprintf(stderr, "%s: expected %d entries, got %zu\n", name, N, v.size());
    std::exit(3);
  }
  spvit_tb::Cursor c(v);
  c.fill(table, N);
}

int main(int argc, char** argv) {
  const std::string dir = spvit_tb::io_dir(argc, argv);

  static ap_int<8> gelu8[256];
  static ap_uint<8> sig8[256];
  static ap_int<16> t10[1024];
  static ap_uint<8> tu6[64];
  load_table(dir, "gelu8_table", gelu8);
  load_table(dir, "sig8_table", sig8);
  load_table(dir, "t10_table", t10);
  load_table(dir, "tu6_table", tu6);

  array_t g, s, t, u;
  for (int x = -128; x < 128; x++) g.push_back(gelu<ap_int<8> >(ap_int<8>(x), gelu8).to_int64());
  for (int x = -128; x < 128; x++) s.push_back((long long)sigmoid<ap_uint<8> >(ap_int<8>(x), sig8).to_uint64());
  for (int x = -512; x < 512; x++) t.push_back(table_lookup<ap_int<16> >(ap_int<10>(x), t10).to_int64());
  for (int x = 0; x < 64; x++) u.push_back((long long)table_lookup<ap_uint<8> >(ap_uint<6>(x), tu6).to_uint64());
  spvit_tb::write_array(dir, "gelu8_y", g);
  spvit_tb::write_array(dir, "sig8_y", s);
  spvit_tb::write_array(dir, "t10_y", t);
  spvit_tb::write_array(dir, "tu6_y", u);

  // frame variant: GELU over the first n of MAX_N=6 tokens of 7 channels
  {
    const array_t v = spvit_tb::read_array(dir, "frame_x");  // [n, then 6*7 values]
    spvit_tb::Cursor c(v);
    const int n = (int)c.next();
    static ap_int<8> x[6][7];
    static ap_int<8> y[6][7];
    for (int i = 0; i < 6; i++) c.fill(x[i], 7);
    for (int i = 0; i < 6; i++)
      for (int j = 0; j < 7; j++) y[i][j] = -99;
    table_frame<7, 6>(x, y, n, gelu8);
    array_t out;
    for (int i = 0; i < 6; i++)
      for (int j = 0; j < 7; j++) out.push_back(y[i][j].to_int64());
    spvit_tb::write_array(dir, "frame_y", out);
  }
  return 0;
}
