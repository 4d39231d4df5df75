// spvit_ov_core.h -- shared pieces of the overlay engine's HLS units (spvit_ov_*.h).
//
// The HLS face of the layer-sequential overlay engine (spvit_fpga/hw/overlay, docs/hls_backend.md):
// the same layer program (instruction words of program.FIELDS, decoded by the generated
// spvit_program.h), the same buffers and the same param stream as the RTL (rtl/spvit_ov_*.sv).
// Every unit takes the engine configuration `C` (the generated struct spvit_cfg: sizes that are RTL
// parameters there) and the decoded instruction `I` (its members are the program's field names).
//
// Buffers are arrays of wide words, as in the RTL:
//   AM bank word  ap_uint<8*L>      lane l = bits [8l, 8l+8): one int8/uint8 value (raw bits)
//   XB word       ap_uint<X_W*L>    lane l = one residual value (signed X_W bits)
//   result word   ap_uint<32*L>     lane l = one raw logit (signed, sign-extended to 32 bits)
//   beat          ap_uint<8*SB>     one param-stream beat (byte i = bits [8i, 8i+8))
// Tensor element (row r, column c) of a tensor at (base, stride) is lane c%L of word
// base + r*stride + c/L (spvit_fpga/hw/overlay/program.py, Tensor).
//
// A bank is chosen at run time by the instruction; am_read/am_write touch exactly one bank, so a
// loop that reads one word and writes one word a cycle uses one read and one write port of each
// bank (the banks are true dual-port RAMs).  The program never reads and writes the same words in
// one instruction (checked by the generator's design-rule check), so the units declare the banks'
// inter-iteration dependences false.
#ifndef SPVIT_OV_CORE_H
#define SPVIT_OV_CORE_H

#include <ap_int.h>
#include <hls_stream.h>

#include "spvit_common.h"
#include "spvit_requant.h"

#ifndef __SYNTHESIS__
#include <cassert>
#include <vector>
#define SPVIT_ASSERT(x) assert(x)
// C-simulation only: every pipelined loop counts its iterations (SPVIT_TRIP), the engine logs the
// count of every instruction (spvit::trip_log) and the testbench writes it out, so the trip counts
// of the HLS cycle model (spvit_fpga/hls/estimate.py) are checked against the code.
namespace spvit {
inline unsigned long long& trip_counter() {
  static unsigned long long c = 0;
  return c;
}
inline std::vector<long long>& trip_log() {
  static std::vector<long long> v;
  return v;
}
}  // namespace spvit
#define SPVIT_TRIP() (++spvit::trip_counter())
#else
#define SPVIT_ASSERT(x)
#define SPVIT_TRIP()
#endif

namespace spvit {

// ---- lanes of a wide word ---------------------------------------------------------------------

// Lane i (W bits) of a word, raw bits.
template <int W, int N>
inline ap_uint<W> lane(const ap_uint<N>& word, int i) {
#pragma HLS inline
  return word.range(W * i + W - 1, W * i);
}

// Set lane i (W bits) of a word.
template <int W, int N, typename T>
inline void set_lane(ap_uint<N>& word, int i, T v) {
#pragma HLS inline
  word.range(W * i + W - 1, W * i) = ap_uint<W>(v);
}

// An 8-bit lane as a 9-bit signed value: two's complement if `sgn`, else 0..255.
inline ap_int<9> lane8_value(ap_uint<8> b, bool sgn) {
#pragma HLS inline
  return sgn ? ap_int<9>(ap_int<8>(b)) : ap_int<9>(b);
}

// ---- run-time counts --------------------------------------------------------------------------

// A count field triple: reg*scale + off, reg 0 = const, 1 = T (tokens), 2 = N (live patches).
inline int count_value(int reg, int scale, int off, int t, int n) {
#pragma HLS inline
  return reg == 1 ? t * scale + off : (reg == 2 ? n * scale + off : off);
}

// ceil(v / 2^LG) for v >= 0.
template <int LG>
inline int ceil_shift(int v) {
#pragma HLS inline
  return (v + (1 << LG) - 1) >> LG;
}

// ---- banks ------------------------------------------------------------------------------------

// One AM word from bank `bank` (0..2); a read of exactly one bank.
template <class C>
inline ap_uint<8 * C::L> am_read(int bank, int addr, const ap_uint<8 * C::L> am0[C::AM0_WORDS],
                                 const ap_uint<8 * C::L> am1[C::AM1_WORDS], const ap_uint<8 * C::L> am2[C::AM2_WORDS]) {
#pragma HLS inline
  ap_uint<8 * C::L> v = 0;
  if (bank == 0) {
    SPVIT_ASSERT(addr >= 0 && addr < C::AM0_WORDS);
    v = am0[addr];
  } else if (bank == 1) {
    SPVIT_ASSERT(addr >= 0 && addr < C::AM1_WORDS);
    v = am1[addr];
  } else {
    SPVIT_ASSERT(addr >= 0 && addr < C::AM2_WORDS);
    v = am2[addr];
  }
  return v;
}

// Write one AM word to bank `bank`.
template <class C>
inline void am_write(int bank, int addr, ap_uint<8 * C::L> v, ap_uint<8 * C::L> am0[C::AM0_WORDS],
                     ap_uint<8 * C::L> am1[C::AM1_WORDS], ap_uint<8 * C::L> am2[C::AM2_WORDS]) {
#pragma HLS inline
  if (bank == 0) {
    SPVIT_ASSERT(addr >= 0 && addr < C::AM0_WORDS);
    am0[addr] = v;
  } else if (bank == 1) {
    SPVIT_ASSERT(addr >= 0 && addr < C::AM1_WORDS);
    am1[addr] = v;
  } else {
    SPVIT_ASSERT(addr >= 0 && addr < C::AM2_WORDS);
    am2[addr] = v;
  }
}

// ---- param stream -----------------------------------------------------------------------------

// Pop n beats and drop them (the padding a blob may end with).
template <class C>
void skip_beats(hls::stream<ap_uint<8 * C::SB> >& ps, int n) {
#pragma HLS inline off
skip:
  for (int i = 0; i < n; i++) {
#pragma HLS pipeline II = 1
#pragma HLS loop_tripcount min = 0 max = 4
    SPVIT_TRIP();
    ps.read();
  }
}

// ---- run-time requantisation ------------------------------------------------------------------

// Range of a run-time output format: bits, signed.
struct out_range {
  long long lo;
  long long hi;
};

inline out_range format_range(int bits, bool sgn) {
#pragma HLS inline
  out_range r;
  r.lo = sgn ? -(1LL << (bits - 1)) : 0LL;
  r.hi = sgn ? (1LL << (bits - 1)) - 1 : (1LL << bits) - 1;
  return r;
}

// intops.requantize(v, s, fmt) with a run-time shift s (RNE right shift for s > 0, exact left
// shift for s <= 0) and a run-time format [lo, hi]; W is v's width (<= 62).  A left shift is
// saturated by comparing v with the limits shifted right, so nothing widens.
template <int W>
inline long long requant_rt(ap_int<W> v, int s, out_range r) {
#pragma HLS inline
  if (s > 0) {
    const ap_int<W> q = round_shift_right(v, s);
    if (q > r.hi) return r.hi;
    if (q < r.lo) return r.lo;
    return (long long)q;
  }
  const int l = -s > 62 ? 62 : -s;
  const long long hi = r.hi >> l;
  const long long lo = -((-r.lo) >> l);
  if (v > hi) return r.hi;
  if (v < lo) return r.lo;
  return (long long)v << l;
}

}  // namespace spvit

#endif  // SPVIT_OV_CORE_H
