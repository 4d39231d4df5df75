// spvit_ov_gemm.h -- the overlay engine's GEMM unit (instruction GEMM), HLS face of
// rtl/spvit_ov_gemm.sv.  Semantics: spvit_fpga/hw/overlay/execute.py _Engine.gemm, i.e.
// intops.int_linear then intops.table_lookup:
//   acc[r][n] = sum_k act[r][k] * W[n][k]                      r < R, n < N, k < K
//   v = acc [+ bias[n]] [+ residual aligned];  y = raw ? v : sat(RNE(v / 2^s)) [-> table]
// act: AM tensor (8-bit lanes, signed by a_signed); W: the param stream (layout.add_gemm blob:
// [table], per block of L outputs the bias (L x 32 bit) then per chunk of L inputs the tile,
// pair-rows last first, 8-bit or 16-bit lanes) or rows of an AM tensor (w_am, 8-bit signed).
// Destination (d_kind): 0 AM row-major, 1 AM transposed (value (r, n) -> row n, column r),
// 2 XB (the residual is read from the same word), 3 the result RAM (raw accumulators).
//
// Micro-architecture (docs/hls_backend.md):
//   * weight-stationary L x L tile of packed pairs: pair p of column k is
//       w(2p, k) + w(2p+1, k) * 2^18   (ap_int<27>)
//     and one 27 x 9 multiply (one DSP48E2, BIND_OP impl=dsp) gives both products of the
//     activation a(k): lo = sext(P[17:0]) = a*w(2p,k), hi = (P >> 18) + P[17] = a*w(2p+1,k)
//     (|a*w| < 2^17, checked by the generator).  PACK = 1 (DSP48E1) multiplies the two weights
//     separately.  Two adder trees a pair give output lanes 2p and 2p+1.
//   * a shadow tile (filled by the loader: one param-stream beat a cycle, pair-rows packed as
//     they complete) and the active tile (copied from the shadow when a tile starts): loading
//     the next tile overlaps the current tile's rows; the block's biases likewise
//     (bias_nxt -> bias_cur, registers).
//   * one flattened pipelined loop over every slot of every tile (II = 1): a tile of stream
//     weights takes max(R, beats of the next tile [+ its bias], DMIN) slots; a tile of AM
//     weights takes L load slots (one W row a slot, through the same bank read port as the
//     activations: the two never share a cycle) then R compute slots.  Rows of a chunk
//     accumulate in accbuf (one word a row); the last chunk's rows run the epilogue and write.
//   * the activation table (GELU) is replicated per output lane (L copies of 2^TBL_BITS bytes,
//     8 entries a word), so every lane looks up in its own copy.
//   * the transposed destination goes through a corner turner: L rows fill ct (lane r%L of L
//     words), then the L words shift out of fl, one AM write a slot.
// Slot counts and the exact cycle model: spvit_fpga/hls/estimate.py (gemm_slots).
#ifndef SPVIT_OV_GEMM_H
#define SPVIT_OV_GEMM_H

#include "spvit_ov_core.h"

namespace spvit {

template <class C>
struct gemm_geom {
  static const int L = C::L;
  static const int SB = C::SB;
  static const int TB8 = (L * L + SB - 1) / SB;       // param-stream beats of an 8-bit-lane tile
  static const int TB16 = (2 * L * L + SB - 1) / SB;  // ... of a 16-bit-lane tile
  static const int BB = (4 * L + SB - 1) / SB;        // bias beats of a block
  static const int BPB = 4 * L >= SB ? SB / 4 : L;    // biases a beat
  static const int TG = 8;                            // table entries a table word
  static const int TGPB = SB / TG;                    // table words a beat
  static const int TREE_W = 19 + C::LG;               // adder-tree sum width
  static_assert(is_pow2(L) && L >= 2, "L must be a power of two >= 2");
  static_assert(is_pow2(SB) && SB >= 8, "SB must be a power of two >= 8 bytes");
  static_assert(C::PACK == 1 || C::PACK == 2, "PACK is 1 or 2");
  static_assert(C::ACC_W <= 32 && C::EPI_W <= 62, "accumulator <= 32 bits, epilogue <= 62 bits");
};

// w1 + w2 * 2^18: the packed pair of one DSP (w1, w2 in [-255, 255]).
inline ap_int<27> pack_pair(ap_int<9> w1, ap_int<9> w2) {
#pragma HLS inline
  return (ap_int<27>(w2) << 18) + ap_int<27>(w1);
}

// The two products a*w1 and a*w2 of a packed pair p = w1 + w2 * 2^18 (|a*w| < 2^17).
// PACK = 2: one 27 x 9 multiply P = p * a (one DSP48E2: A:27 x B:18), lo = sext(P[17:0]),
// hi = (P >> 18) + P[17] (the borrow the negative low product took from the high field).
// PACK = 1: w1, w2 unpacked the same way and two multiplies (DSP48E1).
template <int PACK>
inline void pair_products(ap_int<27> pk, ap_int<9> a, ap_int<18>& lo, ap_int<19>& hi) {
#pragma HLS inline
  if (PACK == 2) {
    ap_int<36> prod = pk * a;
#ifdef __VITIS_HLS__
#pragma HLS bind_op variable = prod op = mul impl = dsp
#else
#pragma HLS resource variable = prod core = DSP48
#endif
    lo = ap_int<18>(prod.range(17, 0));
    hi = ap_int<19>(ap_int<18>(prod >> 18)) + ap_int<19>(prod[17] ? 1 : 0);
  } else {
    const ap_int<9> w1 = ap_int<9>(ap_int<18>(pk.range(17, 0)));
    const ap_int<9> w2 = ap_int<9>(ap_int<9>(pk >> 18) + ap_int<9>(pk[17] ? 1 : 0));
    ap_int<18> p1 = w1 * a;
    ap_int<18> p2 = w2 * a;
#ifdef __VITIS_HLS__
#pragma HLS bind_op variable = p1 op = mul impl = dsp
#pragma HLS bind_op variable = p2 op = mul impl = dsp
#else
#pragma HLS resource variable = p1 core = DSP48
#pragma HLS resource variable = p2 core = DSP48
#endif
    lo = p1;
    hi = p2;
  }
}

// Weight e of a beat: 8-bit lane e (WB = 1) or the low 9 bits of 16-bit lane e (WB = 2).
template <int WB, int N>
inline ap_int<9> beat_weight(const ap_uint<N>& beat, int e) {
#pragma HLS inline
  return WB == 1 ? ap_int<9>(ap_int<8>(beat.range(8 * e + 7, 8 * e)))
                 : ap_int<9>(ap_int<16>(beat.range(16 * e + 15, 16 * e)));
}

// Beat b of a stream tile into the shadow tile.  A tile is L/2 pair-rows, the last first; pair-row
// p is output rows 2p and 2p+1, each L weights of WB bytes.  A beat holds NW = SB/WB weights: whole
// pair-rows (NW >= 2L: packed straight from the beat) or a part of one (collected in pa, packed
// when its last part arrives).
template <class C, int WB>
inline void tile_beat(const ap_uint<8 * C::SB>& beat, int b, ap_int<27> wsh[C::L / 2][C::L], ap_int<9> pa[2 * C::L]) {
#pragma HLS inline
  const int L = C::L;
  const int NW = C::SB / WB;
  if (NW >= 2 * L) {
    const int PPB = NW / (2 * L);
  whole:
    for (int q = 0; q < PPB; q++) {
#pragma HLS unroll
      const int pr = b * PPB + q;
      if (pr < L / 2) {
        const int p = L / 2 - 1 - pr;
        for (int k = 0; k < L; k++) {
#pragma HLS unroll
          wsh[p][k] = pack_pair(beat_weight<WB>(beat, q * 2 * L + k), beat_weight<WB>(beat, q * 2 * L + L + k));
        }
      }
    }
  } else {
    const int BPP = NW >= 2 * L ? 1 : 2 * L / NW;
    const int part = b % BPP;
  parts:
    for (int i = 0; i < NW; i++) {
#pragma HLS unroll
      pa[part * NW + i] = beat_weight<WB>(beat, i);
    }
    if (part == BPP - 1) {
      const int p = L / 2 - 1 - b / BPP;
      for (int k = 0; k < L; k++) {
#pragma HLS unroll
        wsh[p][k] = pack_pair(pa[k], pa[L + k]);
      }
    }
  }
}

// Slots of tile (c of KC) (see the header): stream weights or AM weights.
inline int gemm_tile_slots(bool w_am, bool transposed, int c, int kc, bool last_block, int rows, int lanes, int lg,
                           int tile_beats, int bias_beats, int dmin) {
#pragma HLS inline
  if (w_am) {
    const int s = lanes + rows;
    return (c < kc - 1 && s < dmin) ? dmin : s;
  }
  const bool last_chunk = c == kc - 1;
  int s = (transposed && last_chunk) ? (((rows + lanes - 1) >> lg) << lg) + lanes : rows;
  int next = last_chunk ? (last_block ? 0 : tile_beats + bias_beats) : tile_beats;
  if (next > s) s = next;
  if (!last_chunk && s < dmin) s = dmin;
  return s;
}

// One GEMM instruction.  rows = R, k_in = K, n_out = N (the evaluated counts).
template <class C, class I>
void ov_gemm(const I& in, int rows, int k_in, int n_out, ap_uint<8 * C::L> am0[C::AM0_WORDS],
             ap_uint<8 * C::L> am1[C::AM1_WORDS], ap_uint<8 * C::L> am2[C::AM2_WORDS],
             ap_uint<C::X_W * C::L> xb[C::XB_WORDS], ap_uint<32 * C::L> res[C::RES_WORDS],
             hls::stream<ap_uint<8 * C::SB> >& ps) {
#pragma HLS inline off
  typedef gemm_geom<C> G;
  const int L = C::L;
  typedef ap_uint<8 * C::L> am_t;

  // shadow / active tiles of packed pairs; a pair-row is one word (reshape), the L/2 words registers
  static ap_int<27> wsh[C::L / 2][C::L];
  static ap_int<27> wact[C::L / 2][C::L];
#pragma HLS array_reshape variable = wsh complete dim = 2
#pragma HLS array_partition variable = wsh complete dim = 1
#pragma HLS array_reshape variable = wact complete dim = 2
#pragma HLS array_partition variable = wact complete dim = 1
  static ap_int<9> pa[2 * C::L];  // a pair-row being assembled (beats narrower than a pair-row)
#pragma HLS array_partition variable = pa complete
  static ap_int<9> hold[C::L];    // AM weights: row 2p until row 2p+1 arrives
#pragma HLS array_partition variable = hold complete
  static ap_int<32> bias_nxt[C::L];  // biases of the block being loaded / being computed
  static ap_int<32> bias_cur[C::L];
#pragma HLS array_partition variable = bias_nxt complete
#pragma HLS array_partition variable = bias_cur complete
  // activation table, one copy an output lane, 8 entries a word
  static ap_uint<64> tbl[C::L][C::TBL_WORDS];
#pragma HLS array_partition variable = tbl complete dim = 1
  // partial sums of the rows of a block (chunks 0 .. KC-2), one word a row
  static ap_int<C::ACC_W> accbuf[C::ACC_ROWS][C::L];
#pragma HLS array_reshape variable = accbuf complete dim = 2
  // corner turner of the transposed destination
  static am_t ct[C::L];
  static am_t fl[C::L];
#pragma HLS array_partition variable = ct complete
#pragma HLS array_partition variable = fl complete

  // ---- configuration ------------------------------------------------------------------------
  const int nb = ceil_shift<C::LG>(n_out);
  const int kc = ceil_shift<C::LG>(k_in);
  const int n_last = n_out - ((nb - 1) << C::LG);
  const int k_last = k_in - ((kc - 1) << C::LG);
  const bool w_am = in.w_am != 0;
  const bool w16 = in.w16 != 0;
  const bool has_bias = in.bias != 0;
  const bool has_table = in.table != 0;
  const bool a_signed = in.a_signed != 0;
  const bool raw = in.raw != 0;
  const bool resid = in.res != 0;
  const int kind = in.d_kind;
  const bool transposed = kind == 1;
  const int a_bank = in.a_bank, a_base = in.a_base, a_stride = in.a_stride;
  const int w_bank = in.w_bank, w_base = in.w_base, w_stride = in.w_stride;
  const int d_bank = in.d_bank, d_base = in.d_base, d_stride = in.d_stride;
  const int align = in.res_align;
  const int shift = (resid && align < 0) ? int(in.shift) - align : int(in.shift);
  const out_range orng = format_range(in.out_bits, in.out_signed != 0);
  const int tbl_bits = in.tbl_in_bits;
  const bool tbl_sgn_in = in.out_signed != 0;  // the table's input format is the output format
  const bool tbl_sgn_out = in.tbl_out_signed != 0;
  const int tile_beats = w16 ? G::TB16 : G::TB8;
  const int bias_beats = has_bias ? G::BB : 0;
  SPVIT_ASSERT(rows >= 1 && rows <= C::MAX_ROWS && k_in >= 1 && n_out >= 1);
  SPVIT_ASSERT(kc == 1 || rows <= C::ACC_ROWS);
  SPVIT_ASSERT(!(w_am && (has_bias || has_table || transposed)));

  // ---- activation table ---------------------------------------------------------------------
  if (has_table) {
    const int words = (1 << tbl_bits) <= G::TG ? 1 : (1 << tbl_bits) / G::TG;
    ap_uint<8 * C::SB> beat = 0;
  table_load:
    for (int g = 0; g < words; g++) {
#pragma HLS pipeline II = 1
#pragma HLS loop_tripcount min = 1 max = C::TBL_WORDS
      SPVIT_TRIP();
      if (g % G::TGPB == 0) beat = ps.read();
      const ap_uint<64> w = beat.range(64 * (g % G::TGPB) + 63, 64 * (g % G::TGPB));
      for (int n = 0; n < L; n++) {
#pragma HLS unroll
        tbl[n][g] = w;
      }
    }
  }

  // ---- the slots of every tile ----------------------------------------------------------------
  const int dmin = C::DMIN;
  const int rc_last = transposed ? (((rows + L - 1) >> C::LG) << C::LG) + L : rows;
  int total;
  if (w_am) {
    const int mid = (L + rows) < dmin ? dmin : L + rows;
    total = nb * (kc - 1) * mid + nb * (L + rows);
  } else {
    int mid = rows > tile_beats ? rows : tile_beats;
    if (mid < dmin) mid = dmin;
    const int last_nf = rc_last > tile_beats + bias_beats ? rc_last : tile_beats + bias_beats;
    total = bias_beats + tile_beats + nb * (kc - 1) * mid + (nb - 1) * last_nf + rc_last;
  }
  const int groups = (rows + L - 1) >> C::LG;

  int t = w_am ? 0 : -1;  // tile; -1: the preload of tile 0
  int bk = 0, c = 0;      // block and chunk of tile t (t >= 0)
  int j = 0;              // slot within the tile
  int slots = w_am ? gemm_tile_slots(true, transposed, 0, kc, nb == 1, rows, L, C::LG, tile_beats, bias_beats, dmin)
                   : bias_beats + tile_beats;
  int ld_bias = 0, ld_tile = 0, ld_b = 0, ld_beat = 0;  // loader: beats left (bias, tile), indices

gemm_slots:
  for (int it = 0; it < total; it++) {
#pragma HLS pipeline II = 1
#pragma HLS loop_tripcount min = 1 max = C::MAX_GEMM_SLOTS
#pragma HLS dependence variable = am0 inter false
#pragma HLS dependence variable = am1 inter false
#pragma HLS dependence variable = am2 inter false
#pragma HLS dependence variable = xb inter false
#ifdef __VITIS_HLS__
#pragma HLS dependence variable = accbuf type = inter direction = RAW distance = C::DMIN dependent = true
#else
#pragma HLS dependence variable = accbuf inter RAW distance = C::DMIN true
#endif
    SPVIT_TRIP();
    const bool last_chunk = c == kc - 1;
    // tile start: the active tile and biases take the shadow's; the loader starts the next tile
    if (j == 0) {
      if (t >= 0 && !w_am) {
        for (int p = 0; p < L / 2; p++) {
#pragma HLS unroll
          for (int k = 0; k < L; k++) {
#pragma HLS unroll
            wact[p][k] = wsh[p][k];
          }
        }
        if (c == 0) {
          for (int n = 0; n < L; n++) {
#pragma HLS unroll
            bias_cur[n] = bias_nxt[n];
          }
        }
      }
      const bool has_next = !w_am && (t + 1 < nb * kc);
      const bool next_c0 = t < 0 || last_chunk;
      ld_bias = has_next && next_c0 ? bias_beats : 0;
      ld_tile = has_next ? tile_beats : 0;
      ld_b = 0;
      ld_beat = 0;
    }
    if (w_am && j == L) {  // AM weights: the tile loaded in slots 0 .. L-1 becomes active
      for (int p = 0; p < L / 2; p++) {
#pragma HLS unroll
        for (int k = 0; k < L; k++) {
#pragma HLS unroll
          wact[p][k] = wsh[p][k];
        }
      }
    }

    // one bank read a slot: a W row (AM weights, slots 0 .. L-1) or an activation row
    const bool load_am = w_am && j < L;
    const int cj = w_am ? j - L : j;
    const bool comp = t >= 0 && cj >= 0 && cj < rows;
    const int wrow = (bk << C::LG) + j;
    const bool rd = load_am ? (wrow < n_out) : comp;
    const int rbank = load_am ? w_bank : a_bank;
    const int raddr = load_am ? w_base + wrow * w_stride + c : a_base + cj * a_stride + c;
    am_t word = 0;
    if (rd) word = am_read<C>(rbank, raddr, am0, am1, am2);

    if (load_am) {  // AM weight row (8-bit signed); lanes past K in the last chunk are 0
      ap_int<9> row[C::L];
#pragma HLS array_partition variable = row complete
      for (int k = 0; k < L; k++) {
#pragma HLS unroll
        const bool live = rd && (!last_chunk || k < k_last);
        row[k] = live ? ap_int<9>(ap_int<8>(lane<8>(word, k))) : ap_int<9>(0);
      }
      if ((j & 1) == 0) {
        for (int k = 0; k < L; k++) {
#pragma HLS unroll
          hold[k] = row[k];
        }
      } else {
        for (int k = 0; k < L; k++) {
#pragma HLS unroll
          wsh[j >> 1][k] = pack_pair(hold[k], row[k]);
        }
      }
    }

    if (comp) {
      // ---- the array: L/2 x L packed DSPs, two adder trees a pair ----
      ap_int<9> a[C::L];
#pragma HLS array_partition variable = a complete
      for (int k = 0; k < L; k++) {
#pragma HLS unroll
        a[k] = lane8_value(lane<8>(word, k), a_signed);
      }
      ap_int<C::ACC_W> psum[C::L];
#pragma HLS array_partition variable = psum complete
    pairs:
      for (int p = 0; p < L / 2; p++) {
#pragma HLS unroll
        ap_int<G::TREE_W> slo = 0, shi = 0;
        for (int k = 0; k < L; k++) {
#pragma HLS unroll
          ap_int<18> lo;
          ap_int<19> hi;
          pair_products<C::PACK>(wact[p][k], a[k], lo, hi);
          slo += lo;
          shi += hi;
        }
        psum[2 * p] = slo;
        psum[2 * p + 1] = shi;
      }
      for (int n = 0; n < L; n++) {
#pragma HLS unroll
        if (c > 0) psum[n] += accbuf[cj][n];
      }
      if (!last_chunk) {
        for (int n = 0; n < L; n++) {
#pragma HLS unroll
          accbuf[cj][n] = psum[n];
        }
      } else {
        // ---- epilogue: bias, residual, rounding shift, saturation, table ----
        const int xaddr = d_base + cj * d_stride + bk;
        ap_uint<C::X_W * C::L> rword = 0;
        if (resid) rword = xb[xaddr];
        am_t yw = 0;
        ap_uint<C::X_W * C::L> xw = 0;
        ap_uint<32 * C::L> rw = 0;
        for (int n = 0; n < L; n++) {
#pragma HLS unroll
          ap_int<C::EPI_W> v = psum[n];
          if (has_bias) v += bias_cur[n];
          if (resid) {
            const ap_int<C::EPI_W> r = ap_int<C::X_W>(lane<C::X_W>(rword, n));
            if (align >= 0)
              v += r << align;
            else
              v = (v << (-align)) + r;
          }
          long long y = raw ? (long long)v : requant_rt<C::EPI_W>(v, shift, orng);
          if (has_table) {
            const int idx = tbl_sgn_in ? int(y) + (1 << (tbl_bits - 1)) : int(y);
            const ap_uint<64> tw = tbl[n][idx >> 3];
            const ap_uint<8> e = tw.range(8 * (idx & 7) + 7, 8 * (idx & 7));
            y = tbl_sgn_out ? (long long)ap_int<8>(e) : (long long)e;
          }
          const bool valid = (bk < nb - 1) || n < n_last;
          if (!valid) y = 0;
          set_lane<8>(yw, n, y);
          set_lane<C::X_W>(xw, n, y);
          set_lane<32>(rw, n, y);
        }
        if (kind == 0) {
          am_write<C>(d_bank, xaddr, yw, am0, am1, am2);
        } else if (kind == 2) {
          xb[xaddr] = xw;
        } else if (kind == 3) {
          SPVIT_ASSERT(d_base + bk < C::RES_WORDS);
          res[d_base + bk] = rw;
        } else {  // transposed: lane cj%L of every corner-turner word
          for (int n = 0; n < L; n++) {
#pragma HLS unroll
            set_lane<8>(ct[n], cj & (L - 1), lane<8>(yw, n));
          }
        }
      }
    }

    // corner turner: group g's words shift out during group g+1; then the next group is taken over
    if (transposed && t >= 0 && last_chunk) {
      if (j >= L && j < (groups + 1) * L) {
        const int n = (bk << C::LG) + (j & (L - 1));
        if (n < n_out) am_write<C>(d_bank, d_base + n * d_stride + ((j >> C::LG) - 1), fl[0], am0, am1, am2);
        for (int i = 0; i < L - 1; i++) {
#pragma HLS unroll
          fl[i] = fl[i + 1];
        }
      }
      if ((j & (L - 1)) == L - 1 && j < groups * L) {
        for (int i = 0; i < L; i++) {
#pragma HLS unroll
          fl[i] = ct[i];
        }
      }
    }

    // the loader: the next tile's biases, then its beats
    if (ld_bias > 0) {
      const ap_uint<8 * C::SB> beat = ps.read();
      for (int i = 0; i < G::BPB; i++) {
#pragma HLS unroll
        const int n = ld_b * G::BPB + i;
        if (n < L) bias_nxt[n] = ap_int<32>(beat.range(32 * i + 31, 32 * i));
      }
      ld_bias--;
      ld_b++;
    } else if (ld_tile > 0) {
      const ap_uint<8 * C::SB> beat = ps.read();
      if (w16)
        tile_beat<C, 2>(beat, ld_beat, wsh, pa);
      else
        tile_beat<C, 1>(beat, ld_beat, wsh, pa);
      ld_tile--;
      ld_beat++;
    }

    // next slot
    if (j + 1 == slots) {
      j = 0;
      if (t >= 0) {
        if (c + 1 == kc) {
          c = 0;
          bk++;
        } else {
          c++;
        }
      }
      t++;
      slots = gemm_tile_slots(w_am, transposed, c, kc, bk == nb - 1, rows, L, C::LG, tile_beats, bias_beats, dmin);
    } else {
      j++;
    }
  }
}

}  // namespace spvit

#endif  // SPVIT_OV_GEMM_H
