// spvit_ov_select.h -- the overlay engine's token-selector instructions (HEAD_MEAN, TOKEN_MEAN,
// CONCAT, SELECT): SPViT's selector around the GEMMs of its MLPs.  Semantics: execute.py
// _Engine.head_mean / token_mean / concat / select (intops int_head_mean, int_token_mean,
// keep_decision / topk_decision, int_keep_prob, int_package_token).
//
//   HEAD_MEAN   u[t][h] = sat(RNE(sum_{c in head h} x[1+t][c] * 2^up / dh))  for the N live rows
//               of XB: one XB word a cycle, one divider (its own pipelined core)
//   TOKEN_MEAN  g[h][c] = sat(RNE(sum_t F[t*H+h][half+c] * 2^up / N)), 0 when N = 0: per head, one
//               word a cycle into L accumulators, then one division a cycle
//   CONCAT      Z[t*H+h] = [F[t*H+h][:half], g[h]]: g held in registers, one word a cycle
//   SELECT      z_t = sum_h w_h delta_h, keep (z >= tau, or the top k: rank by L comparisons a
//               cycle), p_t (sigmoid table, weighted mean, one division a token), then per XB
//               word column: every row once (kept rows and earlier packages move up in place,
//               pruned rows accumulate p*x and x), one division a lane for the package token.
//               Updates N, T and the stage's kept count.
// Divisions use spvit::rounded_div (one pipelined divider a unit); every loop is pipelined at
// II = 1 with trip counts from the live tokens.
#ifndef SPVIT_OV_SELECT_H
#define SPVIT_OV_SELECT_H

#include "spvit_ov_core.h"

namespace spvit {

// RNE(num * 2^up / den) with one rounding, up may be negative (intops._scaled_div); den > 0.
template <int NW, int DW>
inline long long scaled_div_rt(ap_int<NW> num, ap_uint<DW> den, int up) {
#pragma HLS inline
  const ap_int<NW> n = up > 0 ? ap_int<NW>(num << up) : num;
  const ap_uint<DW> d = up < 0 ? ap_uint<DW>(den << (-up)) : den;
  return (long long)rounded_div(n, d);
}

inline long long clamp_range(long long v, out_range r) {
#pragma HLS inline
  return v > r.hi ? r.hi : (v < r.lo ? r.lo : v);
}

// ---- HEAD_MEAN ----------------------------------------------------------------------------------
template <class C, class I>
void ov_head_mean(const I& in, int n, const ap_uint<C::X_W * C::L> xb[C::XB_WORDS], ap_uint<8 * C::L> am0[C::AM0_WORDS],
                  ap_uint<8 * C::L> am1[C::AM1_WORDS], ap_uint<8 * C::L> am2[C::AM2_WORDS]) {
#pragma HLS inline off
  const int wpr = in.words;
  const int wph = int(in.hdim) >> C::LG;  // words a head
  const int dh = in.hdim;
  const int up = in.up0;
  const out_range orng = format_range(in.out_bits, in.out_signed != 0);
  ap_int<C::SEL_DIV_NW> s = 0;
  ap_uint<8 * C::L> uw = 0;
  int t = 0, w = 0, hw = 0, h = 0;  // row, word of the row, word of the head, head
head_mean:
  for (int i = 0; i < n * wpr; i++) {
#pragma HLS pipeline II = 1
#pragma HLS loop_tripcount min = 0 max = C::N_PATCH * C::WPR
#pragma HLS dependence variable = am0 inter false
#pragma HLS dependence variable = am1 inter false
#pragma HLS dependence variable = am2 inter false
    SPVIT_TRIP();
    const ap_uint<C::X_W * C::L> xw = xb[int(in.a_base) + i];
    ap_int<C::X_W + C::LG + 1> ws = 0;
    for (int l = 0; l < C::L; l++) {
#pragma HLS unroll
      ws += ap_int<C::X_W>(lane<C::X_W>(xw, l));
    }
    s = (hw == 0 ? ap_int<C::SEL_DIV_NW>(0) : s) + ws;
    if (hw == wph - 1) {
      set_lane<8>(uw, h, clamp_range(scaled_div_rt(s, ap_uint<C::SEL_DIV_DW>(dh), up), orng));
      h++;
      hw = 0;
    } else {
      hw++;
    }
    if (w == wpr - 1) {
      am_write<C>(in.d_bank, int(in.d_base) + t * int(in.d_stride), uw, am0, am1, am2);
      uw = 0;
      w = 0;
      h = 0;
      t++;
    } else {
      w++;
    }
  }
}

// ---- TOKEN_MEAN ---------------------------------------------------------------------------------
template <class C, class I>
void ov_token_mean(const I& in, int n, ap_uint<8 * C::L> am0[C::AM0_WORDS], ap_uint<8 * C::L> am1[C::AM1_WORDS],
                   ap_uint<8 * C::L> am2[C::AM2_WORDS]) {
#pragma HLS inline off
  const int heads = in.heads, half = in.half;
  const int w0 = half >> C::LG;                             // first word with columns >= half
  const int wn = ((2 * half + C::L - 1) >> C::LG) - w0;     // words with columns >= half
  const int gw = (half + C::L - 1) >> C::LG;                // words of a g row
  const int up = in.up0;
  const bool sgn = true;  // F is a signed int8 tensor (GELU output)
  const out_range orng = format_range(in.out_bits, in.out_signed != 0);
  static ap_int<C::SEL_DIV_NW> acc[C::TM_WORDS][C::L];
#pragma HLS array_partition variable = acc complete dim = 0
heads:
  for (int h = 0; h < heads; h++) {
#pragma HLS loop_tripcount min = 1 max = C::HEADS
    int t = 0, w = 0;
  sum:
    for (int i = 0; i < n * wn; i++) {
#pragma HLS pipeline II = 1
#pragma HLS loop_tripcount min = 0 max = C::N_PATCH * C::TM_WORDS
      SPVIT_TRIP();
      const ap_uint<8 * C::L> fw = am_read<C>(in.a_bank, int(in.a_base) + (t * heads + h) * int(in.a_stride) + w0 + w,
                                               am0, am1, am2);
      for (int l = 0; l < C::L; l++) {
#pragma HLS unroll
        const int col = (w0 + w) * C::L + l;
        const ap_int<9> x = (col >= half && col < 2 * half) ? lane8_value(lane<8>(fw, l), sgn) : ap_int<9>(0);
        acc[w][l] = (t == 0 ? ap_int<C::SEL_DIV_NW>(0) : acc[w][l]) + x;
      }
      if (w == wn - 1) {
        w = 0;
        t++;
      } else {
        w++;
      }
    }
    ap_uint<8 * C::L> gword = 0;
  divide:
    for (int c = 0; c < gw * C::L; c++) {
#pragma HLS pipeline II = 1
#pragma HLS loop_tripcount min = 1 max = C::TM_WORDS * C::L
#pragma HLS dependence variable = am0 inter false
#pragma HLS dependence variable = am1 inter false
#pragma HLS dependence variable = am2 inter false
      SPVIT_TRIP();
      const int col = half + c;
      long long g = 0;
      if (c < half && n > 0) {
        const ap_int<C::SEL_DIV_NW> s = acc[(col >> C::LG) - w0][col & (C::L - 1)];
        g = clamp_range(scaled_div_rt(s, ap_uint<C::SEL_DIV_DW>(n), up), orng);
      }
      set_lane<8>(gword, c & (C::L - 1), g);
      if ((c & (C::L - 1)) == C::L - 1) {
        am_write<C>(in.d_bank, int(in.d_base) + h * int(in.d_stride) + (c >> C::LG), gword, am0, am1, am2);
        gword = 0;
      }
    }
  }
}

// ---- CONCAT -------------------------------------------------------------------------------------
template <class C, class I>
void ov_concat(const I& in, int n, ap_uint<8 * C::L> am0[C::AM0_WORDS], ap_uint<8 * C::L> am1[C::AM1_WORDS],
               ap_uint<8 * C::L> am2[C::AM2_WORDS]) {
#pragma HLS inline off
  const int heads = in.heads, half = in.half;
  const int gw = (half + C::L - 1) >> C::LG;       // words of a g row
  const int zw = (2 * half + C::L - 1) >> C::LG;   // words of a Z row
  static ap_uint<8 * C::L> g[C::HEADS][C::TM_WORDS];
#pragma HLS array_partition variable = g complete dim = 0
g_load:
  for (int i = 0; i < heads * gw; i++) {
#pragma HLS pipeline II = 1
#pragma HLS loop_tripcount min = 1 max = C::HEADS * C::TM_WORDS
    SPVIT_TRIP();
    g[i / gw][i % gw] = am_read<C>(in.w_bank, int(in.w_base) + (i / gw) * int(in.w_stride) + i % gw, am0, am1, am2);
  }
  int row = 0, h = 0, w = 0;
concat:
  for (int i = 0; i < n * heads * zw; i++) {
#pragma HLS pipeline II = 1
#pragma HLS loop_tripcount min = 0 max = C::N_PATCH * C::HEADS * C::TM_WORDS * 2
#pragma HLS dependence variable = am0 inter false
#pragma HLS dependence variable = am1 inter false
#pragma HLS dependence variable = am2 inter false
    SPVIT_TRIP();
    ap_uint<8 * C::L> f = 0;
    if (w * C::L < half) f = am_read<C>(in.a_bank, int(in.a_base) + row * int(in.a_stride) + w, am0, am1, am2);
    ap_uint<8 * C::L> z = 0;
    for (int l = 0; l < C::L; l++) {
#pragma HLS unroll
      const int col = w * C::L + l;
      ap_uint<8> v = 0;
      if (col < half) {
        v = lane<8>(f, l);
      } else if (col < 2 * half) {
        const int gc = col - half;
        v = lane<8>(g[h][gc >> C::LG], gc & (C::L - 1));
      }
      set_lane<8>(z, l, v);
    }
    am_write<C>(in.d_bank, int(in.d_base) + row * int(in.d_stride) + w, z, am0, am1, am2);
    if (w == zw - 1) {
      w = 0;
      row++;
      h = (h == heads - 1) ? 0 : h + 1;
    } else {
      w++;
    }
  }
}

// ---- SELECT -------------------------------------------------------------------------------------
template <class C, class I>
void ov_select(const I& in, int& t_reg, int& n_reg, int& kept_out, ap_uint<C::X_W * C::L> xb[C::XB_WORDS],
               ap_uint<8 * C::L> am0[C::AM0_WORDS], ap_uint<8 * C::L> am1[C::AM1_WORDS],
               ap_uint<8 * C::L> am2[C::AM2_WORDS], hls::stream<ap_uint<8 * C::SB> >& ps) {
#pragma HLS inline off
  static const int SIG_BEATS = ((1 << C::SIG_BITS) + C::SB - 1) / C::SB;
  static ap_uint<8 * C::SB> stbl[SIG_BEATS];
  static ap_int<C::Z_W> zbuf[C::N_WORDS][C::L];  // scores, one word per L tokens
#pragma HLS array_reshape variable = zbuf complete dim = 2
#pragma HLS bind_storage variable = zbuf type = ram_t2p
  static ap_uint<8> pbuf[C::N_PATCH];             // keep probabilities
  static bool keep[C::N_PATCH];
  const int n = n_reg, tt = t_reg, heads = in.heads, wpr = in.words;
  const int up = in.up0;
  const out_range prng = format_range(in.out_bits, false);
  const ap_int<48> tau = ap_int<48>(in.tau);
  const bool topk = in.topk_rule != 0;
  const int k_top = in.topk;

sig_load:
  for (int b = 0; b < SIG_BEATS; b++) {
#pragma HLS pipeline II = 1
    SPVIT_TRIP();
    stbl[b] = ps.read();
  }

  // pass 1: scores, threshold decisions, keep probabilities (one (token, head) a cycle)
  ap_int<C::Z_W> z = 0;
  ap_uint<C::SEL_DIV_NW - 1> a = 0;
  ap_uint<16> wsum = 0, sigsum = 0;  // sums of H <= 32 weights / sigmoids
  int t = 0, h = 0, kept_thr = 0;
scores:
  for (int i = 0; i < n * heads; i++) {
#pragma HLS pipeline II = 1
#pragma HLS loop_tripcount min = 0 max = C::N_PATCH * C::HEADS
    SPVIT_TRIP();
    const ap_uint<8 * C::L> ww = am_read<C>(in.a_bank, int(in.a_base) + t * int(in.a_stride), am0, am1, am2);
    const ap_uint<8 * C::L> dw = am_read<C>(in.w_bank, int(in.w_base) + i * int(in.w_stride), am0, am1, am2);
    const ap_uint<8> wh = lane<8>(ww, h);
    const ap_int<8> dl = ap_int<8>(lane<8>(dw, 0));
    const int idx = int(dl) + (1 << (C::SIG_BITS - 1));  // signed delta format
    const ap_uint<8 * C::SB> sb = stbl[idx / C::SB];
    const ap_uint<8> sg = sb.range(8 * (idx % C::SB) + 7, 8 * (idx % C::SB));
    const bool first = h == 0;
    z = (first ? ap_int<C::Z_W>(0) : z) + ap_int<C::Z_W>(ap_int<17>(wh * dl));
    a = (first ? ap_uint<C::SEL_DIV_NW - 1>(0) : a) + ap_uint<16>(wh * sg);
    wsum = (first ? ap_uint<16>(0) : wsum) + wh;
    sigsum = (first ? ap_uint<16>(0) : sigsum) + sg;
    if (h == heads - 1) {
      long long p;
      if (wsum > 0)
        p = scaled_div_rt(ap_int<C::SEL_DIV_NW>(a), ap_uint<C::SEL_DIV_DW>(wsum), up);
      else
        p = scaled_div_rt(ap_int<C::SEL_DIV_NW>(sigsum), ap_uint<C::SEL_DIV_DW>(heads), up);
      pbuf[t] = ap_uint<8>(clamp_range(p, prng));
      zbuf[t >> C::LG][t & (C::L - 1)] = z;
      const bool kt = ap_int<48>(z) >= tau;
      keep[t] = kt;
      kept_thr += kt ? 1 : 0;
      h = 0;
      t++;
    } else {
      h++;
    }
  }

  // top-k: keep t iff fewer than k tokens rank before it (L comparisons a cycle)
  int kept = kept_thr;
  if (topk) {
    if (k_top >= n) {
    all:
      for (int i = 0; i < n; i++) {
#pragma HLS pipeline II = 1
#pragma HLS loop_tripcount min = 0 max = C::N_PATCH
        SPVIT_TRIP();
        keep[i] = true;
      }
      kept = n;
    } else {
      const int nw = (n + C::L - 1) >> C::LG;
      int ti = 0, ci = 0, rank = 0, kc = 0;
    rank:
      for (int i = 0; i < n * nw; i++) {
#pragma HLS pipeline II = 1
#pragma HLS loop_tripcount min = 0 max = C::N_PATCH * C::N_WORDS
        SPVIT_TRIP();
        const ap_int<C::Z_W> zt = zbuf[ti >> C::LG][ti & (C::L - 1)];
        int cnt = 0;
        for (int l = 0; l < C::L; l++) {
#pragma HLS unroll
          const int o = (ci << C::LG) + l;
          const ap_int<C::Z_W> zo = zbuf[ci][l];
          if (o < n && (zo > zt || (zo == zt && o < ti))) cnt++;
        }
        rank = (ci == 0 ? 0 : rank) + cnt;
        if (ci == nw - 1) {
          const bool kt = rank < k_top;
          keep[ti] = kt;
          kc += kt ? 1 : 0;
          ci = 0;
          ti++;
        } else {
          ci++;
        }
      }
      kept = kc;
    }
  }

  // pass 2: per word column, move rows up in place and accumulate the package token
  const int t_new = tt - n + kept + 1;
  ap_int<C::PKG_W> accw[C::L];
  ap_int<C::PKG_W> accx[C::L];
#pragma HLS array_partition variable = accw complete
#pragma HLS array_partition variable = accx complete
  ap_uint<24> psum = 0;
  int pruned = 0;
count:
  for (int i = 0; i < n; i++) {
#pragma HLS pipeline II = 1
#pragma HLS loop_tripcount min = 0 max = C::N_PATCH
    SPVIT_TRIP();
    if (!keep[i]) {
      psum += pbuf[i];
      pruned++;
    }
  }
columns:
  for (int w = 0; w < wpr; w++) {
#pragma HLS loop_tripcount min = 1 max = C::WPR
    for (int l = 0; l < C::L; l++) {
#pragma HLS unroll
      accw[l] = 0;
      accx[l] = 0;
    }
    int dst = 1;
  rows:
    for (int r = 1; r < tt; r++) {
#pragma HLS pipeline II = 1
#pragma HLS loop_tripcount min = 0 max = C::T_MAX
#pragma HLS dependence variable = xb inter false
      SPVIT_TRIP();
      const ap_uint<C::X_W * C::L> xw = xb[r * wpr + w];
      const bool patch = r <= n;
      const bool kp = patch ? keep[r - 1] : true;
      const ap_uint<8> pr = patch ? pbuf[r - 1] : ap_uint<8>(0);
      if (kp) {  // kept patches and earlier package tokens move up (dst <= r)
        xb[dst * wpr + w] = xw;
        dst++;
      } else {
        for (int l = 0; l < C::L; l++) {
#pragma HLS unroll
          const ap_int<C::X_W> x = ap_int<C::X_W>(lane<C::X_W>(xw, l));
          accw[l] += x * ap_int<9>(pr);
          accx[l] += x;
        }
      }
    }
    ap_uint<C::X_W * C::L> pw = 0;
  package:
    for (int l = 0; l < C::L; l++) {
#pragma HLS pipeline II = 1
      SPVIT_TRIP();
      long long v = 0;
      if (psum > 0)
        v = (long long)rounded_div(accw[l], psum);
      else if (pruned > 0)
        v = (long long)rounded_div(accx[l], ap_uint<24>(pruned));
      set_lane<C::X_W>(pw, l, v);
    }
    xb[(t_new - 1) * wpr + w] = pw;
  }
  n_reg = kept;
  t_reg = t_new;
  kept_out = kept;
}

}  // namespace spvit

#endif  // SPVIT_OV_SELECT_H
