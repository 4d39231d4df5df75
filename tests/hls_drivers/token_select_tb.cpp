// C-simulation driver: spvit_token_select.h -- head_mean, token_mean, keep_decision, keep_prob,
// package_token and the two-pass token_select unit.  Layouts per section below; every input is
// [num_cases, case...] and every output the concatenation over the cases.
#include <ap_int.h>
#include <hls_stream.h>

#include "spvit_tb_io.h"
#include "spvit_token_select.h"

using namespace spvit;
using spvit_tb::array_t;

// head_mean: case = x[C] -> u[H]
template <int C, int H, int UP, int LANES, typename TX>
static void run_head_mean(const std::string& dir, const std::string& name) {
  const array_t in = spvit_tb::read_array(dir, name + "_in");
  spvit_tb::Cursor c(in);
  array_t out;
  TX x[C];
  ap_int<8> u[H];
  const long long cases = c.next();
  for (long long t = 0; t < cases; t++) {
    c.fill(x, C);
    head_mean<C, H, UP, LANES>(x, u);
    for (int h = 0; h < H; h++) out.push_back((long long)u[h]);
  }
  if (!c.done()) std::exit(5);
  spvit_tb::write_array(dir, name + "_out", out);
}

// token_mean: case = n, x[n][C] -> g[C]
template <int C, int MAX_N, int UP, int LANES, typename TX>
static void run_token_mean(const std::string& dir, const std::string& name) {
  const array_t in = spvit_tb::read_array(dir, name + "_in");
  spvit_tb::Cursor c(in);
  array_t out;
  static TX x[MAX_N][C];
  ap_int<8> g[C];
  const long long cases = c.next();
  for (long long t = 0; t < cases; t++) {
    const int n = (int)c.next();
    for (int j = 0; j < n; j++) c.fill(x[j], C);
    token_mean<C, MAX_N, UP, LANES>(x, n, g);
    for (int i = 0; i < C; i++) out.push_back((long long)g[i]);
  }
  if (!c.done()) std::exit(5);
  spvit_tb::write_array(dir, name + "_out", out);
}

// keep_decision + keep_prob: table <name>_sig[256]; case = w[H], delta[H], tau -> keep, p
template <int H, int UP, typename TP>
static void run_keep(const std::string& dir, const std::string& name) {
  static ap_uint<8> sig[256];
  {
    const array_t s = spvit_tb::read_array(dir, name + "_sig");
    spvit_tb::Cursor c(s);
    c.fill(sig, 256);
  }
  typedef typename keep_score<H, ap_uint<8>, ap_int<8> >::type tau_t;
  const array_t in = spvit_tb::read_array(dir, name + "_in");
  spvit_tb::Cursor c(in);
  array_t keep, prob;
  ap_uint<8> w[H];
  ap_int<8> d[H];
  const long long cases = c.next();
  for (long long t = 0; t < cases; t++) {
    c.fill(w, H);
    c.fill(d, H);
    const tau_t tau = c.next_as<tau_t>();
    keep.push_back(keep_decision<H>(w, d, tau) ? 1 : 0);
    prob.push_back((long long)keep_prob<H, UP, TP>(w, d, sig));
  }
  if (!c.done()) std::exit(5);
  spvit_tb::write_array(dir, name + "_keep", keep);
  spvit_tb::write_array(dir, name + "_prob", prob);
}

// package_token: case = n, x[n][C], p[n], pruned[n] -> pkg[C]
template <int C, int MAX_N>
static void run_package(const std::string& dir, const std::string& name) {
  const array_t in = spvit_tb::read_array(dir, name + "_in");
  spvit_tb::Cursor c(in);
  array_t out;
  static ap_int<16> x[MAX_N][C];
  static ap_uint<8> p[MAX_N];
  static bool pruned[MAX_N];
  ap_int<16> pkg[C];
  const long long cases = c.next();
  for (long long t = 0; t < cases; t++) {
    const int n = (int)c.next();
    for (int j = 0; j < n; j++) c.fill(x[j], C);
    c.fill(p, n);
    for (int j = 0; j < n; j++) pruned[j] = c.next() != 0;
    package_token<C, MAX_N>(x, p, pruned, n, pkg);
    for (int i = 0; i < C; i++) out.push_back((long long)pkg[i]);
  }
  if (!c.done()) std::exit(5);
  spvit_tb::write_array(dir, name + "_out", out);
}

// topk_decision: case = n, k, z[n] -> keep flags (n per case)
template <int MAX_N>
static void run_topk(const std::string& dir, const std::string& name) {
  typedef keep_score<4, ap_uint<8>, ap_int<8> >::type z_t;
  const array_t in = spvit_tb::read_array(dir, name + "_in");
  spvit_tb::Cursor c(in);
  array_t out;
  static z_t z[MAX_N];
  static bool keep[MAX_N];
  const long long cases = c.next();
  for (long long t = 0; t < cases; t++) {
    const int n = (int)c.next();
    const int k = (int)c.next();
    c.fill(z, n);
    topk_decision<MAX_N>(z, n, k, keep);
    for (int j = 0; j < n; j++) out.push_back(keep[j] ? 1 : 0);
  }
  if (!c.done()) std::exit(5);
  spvit_tb::write_array(dir, name + "_out", out);
}

// token_select unit: table <name>_sig[256];
// case = n_patch, n_pkg, tau, k, frame[1 + n_patch + n_pkg][C], w[n_patch][H], delta[n_patch][H]
// -> <name>_out (stream), <name>_keep (n_patch flags), <name>_nkept (one per case)
template <int C, int H, int MAX_N, int MAX_PKG, bool TOPK>
static void run_token_select(const std::string& dir, const std::string& name) {
  static ap_uint<8> sig[256];
  {
    const array_t s = spvit_tb::read_array(dir, name + "_sig");
    spvit_tb::Cursor c(s);
    c.fill(sig, 256);
  }
  typedef typename keep_score<H, ap_uint<8>, ap_int<8> >::type tau_t;
  const array_t in = spvit_tb::read_array(dir, name + "_in");
  spvit_tb::Cursor c(in);
  array_t out, keep_out, nkept_out;
  static ap_int<16> frame[1 + MAX_N + MAX_PKG][C];
  static ap_uint<8> w[MAX_N][H];
  static ap_int<8> d[MAX_N][H];
  static bool keep[MAX_N];
  const long long cases = c.next();
  for (long long t = 0; t < cases; t++) {
    const int n_patch = (int)c.next();
    const int n_pkg = (int)c.next();
    const tau_t tau = c.next_as<tau_t>();
    const int top_k = (int)c.next();
    for (int j = 0; j < 1 + n_patch + n_pkg; j++) c.fill(frame[j], C);
    for (int j = 0; j < n_patch; j++) c.fill(w[j], H);
    for (int j = 0; j < n_patch; j++) c.fill(d[j], H);
    hls::stream<ap_int<16> > s;
    int n_kept = -1;
    token_select<C, H, MAX_N, MAX_PKG, 0, TOPK, ap_uint<8> >(frame, n_patch, n_pkg, w, d, tau, top_k, sig,
                                                             s, keep, n_kept);
    const int expected = (2 + n_kept + n_pkg) * C;
    if ((int)s.size() != expected) {
      std::fprintf(stderr, "%s case %lld: stream has %d elements, expected %d\n", name.c_str(), t,
                   (int)s.size(), expected);
      std::exit(6);
    }
    while (!s.empty()) out.push_back((long long)s.read());
    for (int j = 0; j < n_patch; j++) keep_out.push_back(keep[j] ? 1 : 0);
    nkept_out.push_back(n_kept);
  }
  if (!c.done()) std::exit(5);
  spvit_tb::write_array(dir, name + "_out", out);
  spvit_tb::write_array(dir, name + "_keep", keep_out);
  spvit_tb::write_array(dir, name + "_nkept", nkept_out);
}

// token_select_frame (in place, LANES channels per cycle): the same cases and reference as
// run_token_select; <name>_out holds the frame rows 0 .. 1 + n_kept + n_pkg after the call (the
// rows after them must be untouched).
template <int C, int H, int MAX_N, int MAX_PKG, bool TOPK, int LANES>
static void run_token_select_frame(const std::string& dir, const std::string& name, const std::string& src) {
  static ap_uint<8> sig[256];
  {
    const array_t s = spvit_tb::read_array(dir, src + "_sig");
    spvit_tb::Cursor c(s);
    c.fill(sig, 256);
  }
  typedef typename keep_score<H, ap_uint<8>, ap_int<8> >::type tau_t;
  const array_t in = spvit_tb::read_array(dir, src + "_in");
  spvit_tb::Cursor c(in);
  array_t out, keep_out, nkept_out;
  static ap_int<16> frame[1 + MAX_N + MAX_PKG][C];
  static ap_uint<8> w[MAX_N][H];
  static ap_int<8> d[MAX_N][H];
  static bool keep[MAX_N];
  const long long cases = c.next();
  for (long long t = 0; t < cases; t++) {
    const int n_patch = (int)c.next();
    const int n_pkg = (int)c.next();
    const tau_t tau = c.next_as<tau_t>();
    const int top_k = (int)c.next();
    for (int j = 0; j < 1 + MAX_N + MAX_PKG; j++)
      for (int k = 0; k < C; k++) frame[j][k] = -(j + 1);  // sentinel rows
    for (int j = 0; j < 1 + n_patch + n_pkg; j++) c.fill(frame[j], C);
    for (int j = 0; j < n_patch; j++) c.fill(w[j], H);
    for (int j = 0; j < n_patch; j++) c.fill(d[j], H);
    int n_kept = -1;
    token_select_frame<C, H, MAX_N, MAX_PKG, 0, TOPK, ap_uint<8>, LANES>(frame, n_patch, n_pkg, w, d, tau,
                                                                          top_k, sig, keep, n_kept);
    const int rows = 2 + n_kept + n_pkg;
    for (int j = 0; j < rows; j++)
      for (int k = 0; k < C; k++) out.push_back((long long)frame[j][k]);
    for (int j = 1 + n_patch + n_pkg; j < 1 + MAX_N + MAX_PKG; j++)
      for (int k = 0; k < C; k++)
        if (j >= rows && frame[j][k] != -(j + 1)) std::exit(7);
    for (int j = 0; j < n_patch; j++) keep_out.push_back(keep[j] ? 1 : 0);
    nkept_out.push_back(n_kept);
  }
  if (!c.done()) std::exit(5);
  spvit_tb::write_array(dir, name + "_out", out);
  spvit_tb::write_array(dir, name + "_keep", keep_out);
  spvit_tb::write_array(dir, name + "_nkept", nkept_out);
}

// concat_global_rows and head_rows (selector MLP on whole-token rows): self-checked layouts
static void check_row_layouts() {
  static const int C = 24, DH = 8, H = 3, MAX_N = 7;
  static ap_int<8> f[MAX_N][C], z[MAX_N][C], g[C], y[MAX_N * H][DH / 4];
  for (int r = 0; r < MAX_N; r++)
    for (int c = 0; c < C; c++) f[r][c] = (r * 31 + c * 7) % 251 - 125;
  for (int c = 0; c < C; c++) g[c] = 100 - c;
  for (int n = 0; n <= MAX_N; n++) {
    for (int r = 0; r < MAX_N; r++)
      for (int c = 0; c < C; c++) z[r][c] = 55;
    concat_global_rows<C, DH, MAX_N, 2>(f, g, z, n);
    for (int r = 0; r < MAX_N; r++)
      for (int c = 0; c < C; c++) {
        const ap_int<8> want = r >= n ? ap_int<8>(55) : ((c % DH) < DH / 2 ? f[r][c] : g[c]);
        if (z[r][c] != want) std::exit(10);
      }
    head_rows<C, H, DH / 4, MAX_N, MAX_N * H>(f, y, n);
    for (int j = 0; j < n; j++)
      for (int h = 0; h < H; h++)
        for (int m = 0; m < DH / 4; m++)
          if (y[j * H + h][m] != f[j][h * (DH / 4) + m]) std::exit(10);
  }
}

int main(int argc, char** argv) {
  const std::string dir = spvit_tb::io_dir(argc, argv);
  check_row_layouts();
  // LANES channels per cycle (1 and wider)
  run_head_mean<192, 3, 0, 64, ap_int<16> >(dir, "hm192");  // d_h = 64: a shift, 64 lanes
  run_head_mean<48, 4, 2, 4, ap_int<16> >(dir, "hm48");     // d_h = 12: divider, numerator << 2
  run_head_mean<36, 3, -3, 1, ap_int<8> >(dir, "hm36");     // d_h = 12: divider, divisor << 3
  run_head_mean<16, 4, -2, 2, ap_int<8> >(dir, "hm16");     // d_h = 4: shift by 4
  run_token_mean<8, 196, 1, 8, ap_int<8> >(dir, "tm");      // up to 196 live tokens, 8 lanes
  run_token_mean<5, 20, -2, 1, ap_int<16> >(dir, "tm_dn");
  run_keep<3, 0, ap_uint<8> >(dir, "kp3");
  run_keep<12, 2, ap_uint<10> >(dir, "kp12");
  run_package<8, 196>(dir, "pk");
  run_topk<196>(dir, "tk");
  run_token_select<16, 4, 196, 3, false>(dir, "ts");   // threshold rule
  run_token_select<16, 4, 196, 3, true>(dir, "tsk");   // top-k rule
  // in place, the same cases (room for the new package token: MAX_PKG one more)
  run_token_select_frame<16, 4, 196, 4, false, 8>(dir, "tsf", "ts");    // threshold, 8 lanes
  run_token_select_frame<16, 4, 196, 4, true, 16>(dir, "tskf", "tsk");  // top-k, 16 lanes (one row)
  run_token_select_frame<16, 4, 196, 4, false, 1>(dir, "tsf1", "ts");   // threshold, 1 lane
  return 0;
}
