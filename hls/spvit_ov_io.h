// spvit_ov_io.h -- the overlay engine's data movement: the weight fetch (N m_axi ports merged into
// the param stream), LOAD_XB, PIXELS and RESULT.  HLS face of rtl/spvit_ov_fetch.sv,
// spvit_ov_loadxb.sv, spvit_ov_pixels.sv and spvit_ov_results.sv.
//
// Fetch.  The DDR image (spvit_fpga/hw/overlay/layout.py ParamStream.ddr_image) is NP regions;
// region i holds bytes [i*PB, (i+1)*PB) of every SB = NP*PB-byte param-stream beat.  ov_fetch reads
// one region front to back (STREAM_BEATS words of PB bytes) in a pipelined loop with a constant
// trip count: sequential reads of an m_axi pointer, which the tool turns into bursts of
// max_read_burst_length beats (several in flight) when the port is declared so; ov_merge
// concatenates word k of every port into beat k (port i = bytes [i*PB, (i+1)*PB)).  In the top
// function the fetches, the merge and the engine form a dataflow region, so the weights stream
// while the engine computes, as far as the FIFOs reach ahead.
#ifndef SPVIT_OV_IO_H
#define SPVIT_OV_IO_H

#include "spvit_ov_core.h"

namespace spvit {

// One port's region into its FIFO.
template <class C>
void ov_fetch(const ap_uint<8 * C::PB>* port, hls::stream<ap_uint<8 * C::PB> >& f) {
#pragma HLS inline off
fetch:
  for (int i = 0; i < C::STREAM_BEATS; i++) {
#pragma HLS pipeline II = 1
    f.write(port[i]);
  }
}

// Word k of every port FIFO -> beat k of the param stream.
template <class C>
void ov_merge(hls::stream<ap_uint<8 * C::PB> > f[C::NP], hls::stream<ap_uint<8 * C::SB> >& ps) {
#pragma HLS inline off
merge:
  for (int i = 0; i < C::STREAM_BEATS; i++) {
#pragma HLS pipeline II = 1
    ap_uint<8 * C::SB> beat = 0;
    for (int p = 0; p < C::NP; p++) {
#pragma HLS unroll
      beat.range(8 * C::PB * p + 8 * C::PB - 1, 8 * C::PB * p) = f[p].read();
    }
    ps.write(beat);
  }
}

// LOAD_XB: rows*D residual values (2-byte lanes) into XB words d_base .. d_base + words - 1.
// An XB word is 2L bytes of the blob: SB >= 2L gives SB/2L words a beat, else 2L/SB beats a word.
template <class C, class I>
void ov_load_xb(const I& in, ap_uint<C::X_W * C::L> xb[C::XB_WORDS], hls::stream<ap_uint<8 * C::SB> >& ps) {
#pragma HLS inline off
  const int OB = 2 * C::L;
  const int words = int(in.rows_off) * int(in.words);
  const int base = in.d_base;
  int popped = 0;
  if (C::SB >= OB) {
    const int WPB = C::SB >= OB ? C::SB / OB : 1;
    ap_uint<8 * C::SB> beat = 0;
  words_loop:
    for (int i = 0; i < words; i++) {
#pragma HLS pipeline II = 1
#pragma HLS loop_tripcount min = 1 max = C::XB_WORDS
      SPVIT_TRIP();
      if (i % WPB == 0) {
        beat = ps.read();
        popped++;
      }
      ap_uint<C::X_W * C::L> xw = 0;
      for (int l = 0; l < C::L; l++) {
#pragma HLS unroll
        set_lane<C::X_W>(xw, l, beat.range(16 * ((i % WPB) * C::L + l) + 15, 16 * ((i % WPB) * C::L + l)));
      }
      xb[base + i] = xw;
    }
  } else {
    const int BPW = C::SB >= OB ? 1 : OB / C::SB;
    ap_uint<16 * C::L> w = 0;
  beats_loop:
    for (int i = 0; i < words * BPW; i++) {
#pragma HLS pipeline II = 1
#pragma HLS loop_tripcount min = 1 max = C::XB_WORDS * (2 * C::L / C::SB + 1)
      SPVIT_TRIP();
      w.range(8 * C::SB * (i % BPW) + 8 * C::SB - 1, 8 * C::SB * (i % BPW)) = ps.read();
      popped++;
      if (i % BPW == BPW - 1) {
        ap_uint<C::X_W * C::L> xw = 0;
        for (int l = 0; l < C::L; l++) {
#pragma HLS unroll
          set_lane<C::X_W>(xw, l, w.range(16 * l + 15, 16 * l));
        }
        xb[base + i / BPW] = xw;
      }
    }
  }
  skip_beats<C>(ps, int(in.blob_beats) - popped);
}

// PIXELS: the image [C][H][W] (8-bit pixels, PIX a stream word, raster order) into the patch
// tensor: pixel (c, r, q) -> row (r/P)*GW + q/P, column c*P*P + (r%P)*P + q%P.  A run is the
// longest stretch of a word's pixels inside one patch-row segment and one AM word; one run a
// cycle (the RTL's schedule).  Each patch column keeps its AM word open (ow[gc]) until the run
// that fills its last lane, then the whole word is written: full-word writes, no read-modify-write.
template <class C, class I>
void ov_pixels(const I& in, hls::stream<typename C::pix_axis_t>& pixels, ap_uint<8 * C::L> am0[C::AM0_WORDS],
               ap_uint<8 * C::L> am1[C::AM1_WORDS], ap_uint<8 * C::L> am2[C::AM2_WORDS]) {
#pragma HLS inline off
  const int P = C::PATCH, GW = C::IMG_W / C::PATCH, KP = C::IMG_C * C::PATCH * C::PATCH, PIX = C::PIX;
  static ap_uint<8 * C::L> ow[C::IMG_W / C::PATCH];
#pragma HLS array_partition variable = ow complete
  const int d_bank = in.d_bank, d_base = in.d_base, d_stride = in.d_stride;
  ap_uint<8 * C::PIX> beat = 0;
  int pos = 0;               // next pixel of the beat
  int q = 0, qp = 0, gc = 0;  // image column, column in the patch, patch column
  int rp = 0, gr = 0;        // row in the patch, patch row
  int ch = 0;                // channel
runs:
  for (int it = 0; it < C::PIX_RUNS; it++) {
#pragma HLS pipeline II = 1
#pragma HLS dependence variable = am0 inter false
#pragma HLS dependence variable = am1 inter false
#pragma HLS dependence variable = am2 inter false
    SPVIT_TRIP();
    if (pos == 0) beat = pixels.read().data;
    const int col = ch * P * P + rp * P + qp;
    const int wl = col % C::L;
    int len = PIX - pos;
    if (P - qp < len) len = P - qp;
    if (C::L - wl < len) len = C::L - wl;
    // lanes wl .. wl+len-1 of the open word take pixels pos .. pos+len-1 of the beat
    const ap_uint<8 * C::PIX> src = beat >> (8 * pos);
    ap_uint<8 * C::L> word = ow[gc];
    for (int l = 0; l < C::L; l++) {
#pragma HLS unroll
      const int off = l - wl;
      if (off >= 0 && off < len) set_lane<8>(word, l, src.range(8 * (off % PIX) + 7, 8 * (off % PIX)));
    }
    ow[gc] = word;
    const int end = col + len;
    if (end % C::L == 0 || end == KP) {
      am_write<C>(d_bank, d_base + (gr * GW + gc) * d_stride + col / C::L, word, am0, am1, am2);
    }
    // advance
    pos = pos + len == PIX ? 0 : pos + len;
    qp += len;
    q += len;
    if (qp == P) {
      qp = 0;
      gc++;
    }
    if (q == C::IMG_W) {
      q = 0;
      gc = 0;
      rp++;
      if (rp == P) {
        rp = 0;
        gr++;
        if (gr == C::IMG_H / P) {
          gr = 0;
          ch++;
        }
      }
    }
  }
}

// RESULT: the logits (lane m%L of result word m/L, sign-extended to 32 bits), then the kept count
// of every stage; TLAST on the last word.
template <class C, class I>
void ov_result(const I& in, const ap_uint<32 * C::L> res[C::RES_WORDS], const int kept[C::STAGES_1],
               hls::stream<typename C::out_axis_t>& results) {
#pragma HLS inline off
  const int nc = in.classes, ns = in.stages;
out:
  for (int m = 0; m < nc + ns; m++) {
#pragma HLS pipeline II = 1
#pragma HLS loop_tripcount min = C::CLASSES max = C::CLASSES + C::STAGES
    SPVIT_TRIP();
    typename C::out_axis_t w;
    if (m < nc)
      w.data = lane<32>(res[m >> C::LG], m & (C::L - 1));
    else
      w.data = ap_uint<32>(kept[m - nc]);
    w.keep = -1;
    w.strb = -1;
    w.last = m == nc + ns - 1;
    results.write(w);
  }
}

}  // namespace spvit

#endif  // SPVIT_OV_IO_H
