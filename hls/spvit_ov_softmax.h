// spvit_ov_softmax.h -- the overlay engine's softmax unit (instruction SOFTMAX), HLS face of
// rtl/spvit_ov_softmax.sv.  Semantics: execute.py _Engine.softmax = intops.int_softmax per row:
//   m = max_j x_j;  k_j = min(m - x_j, entries - 1);  E_j = T[k_j];  S = sum_j E_j;
//   p_j = sat_p(RNE(E_j * 2^f_p / S))      (unsigned prob_bits)
// Rows of an 8-bit AM tensor (a_bank) -> rows of an AM tensor (d_bank); row r is words
// base + r*stride + w, element e = lane e%L of word e/L.  The exp table (blob layout.add_table16,
// entries x 16 bit) is loaded when the instruction carries one (table = 1) and kept for the
// later heads of the block.
//
// Micro-architecture: a row is W = ceil(n/SM) chunks of SM elements.  Three passes, each one
// chunk a cycle, in a dataflow region (so the three run on consecutive rows at once, as in the
// RTL): sm_max (AM read, running max), sm_exp (SM table lookups from SM/2 dual-port copies of
// the table, running sum), sm_div (SM pipelined dividers: the division has its own pass; the
// chunks of a word are collected and the word written once).  The unit's source and destination
// banks are fixed at generation (every SOFTMAX of the program reads the same bank and writes
// the same other bank; the generator checks it), so each dataflow process owns its array.
#ifndef SPVIT_OV_SOFTMAX_H
#define SPVIT_OV_SOFTMAX_H

#include "spvit_ov_core.h"

namespace spvit {

template <class C>
struct sm_types {
  static const int SM = C::SM;
  static const int CPW = C::L / C::SM;  // chunks a word
  static const int SUM_W = 17 + C::LG_T_MAX;  // sum of n <= T_MAX entries < 2^17
  static_assert(is_pow2(C::SM) && C::SM >= 2 && C::SM <= C::L, "SM: a power of two in 2..L");
};

// Pass 1: chunks and row maxima.
template <class C, int SRC_WORDS>
void sm_max(const ap_uint<8 * C::L> src[SRC_WORDS], int base, int stride, int rows, int w_row, int n, bool sgn,
            hls::stream<ap_uint<8 * C::SM> >& rc, hls::stream<ap_int<9> >& mx) {
#pragma HLS inline off
  typedef sm_types<C> T;
  ap_int<9> m = -256;
  int r = 0, w = 0;
max:
  for (int i = 0; i < rows * w_row; i++) {
#pragma HLS pipeline II = 1
#pragma HLS loop_tripcount min = 1 max = C::SM_MAX_CHUNKS
    SPVIT_TRIP();
    const int addr = base + r * stride + w / T::CPW;
    SPVIT_ASSERT(addr >= 0 && addr < SRC_WORDS);
    const ap_uint<8 * C::L> word = src[addr];
    const int sub = w % T::CPW;
    const ap_uint<8 * C::SM> chunk = word.range(8 * C::SM * sub + 8 * C::SM - 1, 8 * C::SM * sub);
    ap_int<9> cm = -256;
    for (int l = 0; l < C::SM; l++) {
#pragma HLS unroll
      const ap_int<9> x = lane8_value(lane<8>(chunk, l), sgn);
      if (w * C::SM + l < n && x > cm) cm = x;
    }
    m = (w == 0 || cm > m) ? cm : m;
    rc.write(chunk);
    if (w == w_row - 1) {
      mx.write(m);
      w = 0;
      r++;
    } else {
      w++;
    }
  }
}

// Pass 2: exponentials and row sums.
template <class C>
void sm_exp(hls::stream<ap_uint<8 * C::SM> >& rc, hls::stream<ap_int<9> >& mx, int rows, int w_row, int n, bool sgn,
            int entries, const ap_uint<16> etbl[C::SM / 2][C::EXP_DEPTH], hls::stream<ap_uint<16 * C::SM> >& ec,
            hls::stream<ap_uint<sm_types<C>::SUM_W> >& sm) {
#pragma HLS inline off
  typedef sm_types<C> T;
  ap_int<9> m = 0;
  ap_uint<T::SUM_W> s = 0;
  int w = 0;
exps:
  for (int i = 0; i < rows * w_row; i++) {
#pragma HLS pipeline II = 1
#pragma HLS loop_tripcount min = 1 max = C::SM_MAX_CHUNKS
    SPVIT_TRIP();
    if (w == 0) m = mx.read();
    const ap_uint<8 * C::SM> chunk = rc.read();
    ap_uint<16 * C::SM> e = 0;
    ap_uint<16 + C::LG_SM + 1> cs = 0;
    for (int l = 0; l < C::SM; l++) {
#pragma HLS unroll
      const ap_int<9> x = lane8_value(lane<8>(chunk, l), sgn);
      int k = int(m - x);
      if (k > entries - 1) k = entries - 1;
      const bool live = w * C::SM + l < n;
      const ap_uint<16> v = live ? etbl[l / 2][k] : ap_uint<16>(0);
      set_lane<16>(e, l, v);
      cs += v;
    }
    s = (w == 0 ? ap_uint<T::SUM_W>(0) : s) + cs;
    ec.write(e);
    if (w == w_row - 1) {
      sm.write(s);
      w = 0;
    } else {
      w++;
    }
  }
}

// Pass 3: the divisions, collected into words and written.
template <class C, int DST_WORDS>
void sm_div(hls::stream<ap_uint<16 * C::SM> >& ec, hls::stream<ap_uint<sm_types<C>::SUM_W> >& sm, int rows, int w_row,
            int prob_frac, out_range prng, ap_uint<8 * C::L> dst[DST_WORDS], int base, int stride) {
#pragma HLS inline off
  typedef sm_types<C> T;
  ap_uint<T::SUM_W> s = 1;
  ap_uint<8 * C::L> word = 0;
  int r = 0, w = 0;
divide:
  for (int i = 0; i < rows * w_row; i++) {
#pragma HLS pipeline II = 1
#pragma HLS loop_tripcount min = 1 max = C::SM_MAX_CHUNKS
    SPVIT_TRIP();
    if (w == 0) s = sm.read();
    const ap_uint<16 * C::SM> e = ec.read();
    const int sub = w % T::CPW;
    for (int l = 0; l < C::SM; l++) {
#pragma HLS unroll
      const ap_uint<16 + C::PF_MAX> num = ap_uint<16 + C::PF_MAX>(lane<16>(e, l)) << prob_frac;
      const ap_uint<16 + C::PF_MAX> q = rounded_div(num, s);
      const ap_uint<8> p = q > (unsigned long long)prng.hi ? ap_uint<8>(prng.hi) : ap_uint<8>(q);
      set_lane<8>(word, sub * C::SM + l, p);
    }
    if (sub == T::CPW - 1 || w == w_row - 1) {
      const int addr = base + r * stride + w / T::CPW;
      SPVIT_ASSERT(addr >= 0 && addr < DST_WORDS);
      dst[addr] = word;
      word = 0;
    }
    if (w == w_row - 1) {
      w = 0;
      r++;
    } else {
      w++;
    }
  }
}

template <class C, int SRC_WORDS, int DST_WORDS>
void sm_rows(const ap_uint<8 * C::L> src[SRC_WORDS], int sbase, int sstride, int rows, int w_row, int n, bool sgn,
             int entries, const ap_uint<16> etbl[C::SM / 2][C::EXP_DEPTH], int prob_frac, out_range prng,
             ap_uint<8 * C::L> dst[DST_WORDS], int dbase, int dstride) {
#pragma HLS inline off
#pragma HLS dataflow
  hls::stream<ap_uint<8 * C::SM> > rc("sm_chunks");
  hls::stream<ap_int<9> > mx("sm_max");
  hls::stream<ap_uint<16 * C::SM> > ec("sm_exps");
  hls::stream<ap_uint<sm_types<C>::SUM_W> > sm("sm_sums");
#pragma HLS stream variable = rc depth = C::SM_FIFO
#pragma HLS stream variable = mx depth = 4
#pragma HLS stream variable = ec depth = C::SM_FIFO
#pragma HLS stream variable = sm depth = 4
  sm_max<C, SRC_WORDS>(src, sbase, sstride, rows, w_row, n, sgn, rc, mx);
  sm_exp<C>(rc, mx, rows, w_row, n, sgn, entries, etbl, ec, sm);
  sm_div<C, DST_WORDS>(ec, sm, rows, w_row, prob_frac, prng, dst, dbase, dstride);
}

// One SOFTMAX instruction: `rows` rows of `n` elements; src / dst are the banks the generator
// bound to the unit (SRC_BANK / DST_BANK, checked against the instruction here).
template <class C, int SRC_BANK, int DST_BANK, int SRC_WORDS, int DST_WORDS, class I>
void ov_softmax(const I& in, int rows, int n, const ap_uint<8 * C::L> src[SRC_WORDS], ap_uint<8 * C::L> dst[DST_WORDS],
                ap_uint<16> etbl[C::SM / 2][C::EXP_DEPTH], hls::stream<ap_uint<8 * C::SB> >& ps) {
#pragma HLS inline off
  SPVIT_ASSERT(int(in.a_bank) == SRC_BANK && int(in.d_bank) == DST_BANK);
  SPVIT_ASSERT(n >= 1 && n <= C::T_MAX && rows <= C::T_MAX);
  const int entries = in.sm_entries;
  if (in.table) {  // a new exp table: entries x 16 bit, SB/2 a beat, written to every copy
    const int epb = C::SB / 2;
    ap_uint<8 * C::SB> beat = 0;
  table_load:
    for (int k = 0; k < entries; k++) {
#pragma HLS pipeline II = 1
#pragma HLS loop_tripcount min = 1 max = C::EXP_DEPTH
      SPVIT_TRIP();
      if (k % epb == 0) beat = ps.read();
      const ap_uint<16> v = beat.range(16 * (k % epb) + 15, 16 * (k % epb));
      for (int c = 0; c < C::SM / 2; c++) {
#pragma HLS unroll
        etbl[c][k] = v;
      }
    }
  }
  if (rows > 0) {
    const int w_row = (n + C::SM - 1) / C::SM;
    sm_rows<C, SRC_WORDS, DST_WORDS>(src, in.a_base, in.a_stride, rows, w_row, n, in.a_signed != 0, entries, etbl,
                                     in.prob_frac, format_range(in.prob_bits, false), dst, in.d_base, in.d_stride);
  }
}

}  // namespace spvit

#endif  // SPVIT_OV_SOFTMAX_H
