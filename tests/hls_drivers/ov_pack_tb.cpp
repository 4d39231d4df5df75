// C-simulation driver: the packed-DSP pair products of the overlay GEMM (spvit_ov_gemm.h
// pair_products / pack_pair), exhaustively.  For every int8 pair (w1, w2) and every activation a in
// -128..255 (int8 and uint8 lanes), and for 9-bit weights in [-255, 255] at the extremes, the two
// products of one packed multiply must equal a*w1 and a*w2 (PACK = 2) -- and the PACK = 1 path
// must give the same.  Then the longest accumulation the design does (an L = 64 tree of the worst
// products) must be exact.  Writes the mismatch counts (all must be 0) and the number of triples
// checked.
#include <ap_int.h>

#include "spvit_ov_gemm.h"
#include "spvit_tb_io.h"

using namespace spvit;

int main(int argc, char** argv) {
  const std::string dir = spvit_tb::io_dir(argc, argv);
  long long checked = 0, bad2 = 0, bad1 = 0;
  for (int w1 = -128; w1 < 128; w1++) {
    for (int w2 = -128; w2 < 128; w2++) {
      const ap_int<27> pk = pack_pair(ap_int<9>(w1), ap_int<9>(w2));
      for (int a = -128; a < 256; a++) {
        ap_int<18> lo;
        ap_int<19> hi;
        pair_products<2>(pk, ap_int<9>(a), lo, hi);
        if ((long long)lo != (long long)a * w1 || (long long)hi != (long long)a * w2) bad2++;
        pair_products<1>(pk, ap_int<9>(a), lo, hi);
        if ((long long)lo != (long long)a * w1 || (long long)hi != (long long)a * w2) bad1++;
        checked++;
      }
    }
  }
  // 9-bit weights (the selector's delta row) at and near the extremes
  const int w9[] = {-255, -254, -129, -128, -1, 0, 1, 127, 128, 254, 255};
  for (int i = 0; i < 11; i++)
    for (int j = 0; j < 11; j++)
      for (int a = -128; a < 256; a++) {
        if ((long long)a * w9[i] >= 131072 || (long long)a * w9[i] < -131072) continue;
        const ap_int<27> pk = pack_pair(ap_int<9>(w9[i]), ap_int<9>(w9[j]));
        ap_int<18> lo;
        ap_int<19> hi;
        pair_products<2>(pk, ap_int<9>(a), lo, hi);
        if ((long long)lo != (long long)a * w9[i] || (long long)hi != (long long)a * w9[j]) bad2++;
        checked++;
      }
  // the longest tree: 64 products of the worst magnitude, both signs
  long long bad_tree = 0;
  const int ext[][3] = {{-128, -128, -128}, {255, 127, -128}, {255, -128, 127}, {-128, 127, 127}};
  for (int e = 0; e < 4; e++) {
    ap_int<19 + 6> slo = 0, shi = 0;
    for (int k = 0; k < 64; k++) {
      ap_int<18> lo;
      ap_int<19> hi;
      pair_products<2>(pack_pair(ap_int<9>(ext[e][1]), ap_int<9>(ext[e][2])), ap_int<9>(ext[e][0]), lo, hi);
      slo += lo;
      shi += hi;
    }
    if ((long long)slo != 64LL * ext[e][0] * ext[e][1] || (long long)shi != 64LL * ext[e][0] * ext[e][2]) bad_tree++;
  }
  spvit_tb::array_t out;
  out.push_back(checked);
  out.push_back(bad2);
  out.push_back(bad1);
  out.push_back(bad_tree);
  spvit_tb::write_array(dir, "result", out);
  return 0;
}
