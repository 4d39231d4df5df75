// spvit_ov_norm.h -- the overlay engine's LayerNorm unit (instruction LAYERNORM), HLS face of
// rtl/spvit_ov_layernorm.sv.  Semantics: execute.py _Engine.layernorm = intops
// int_layernorm_normalize then requantize(gamma * n + beta, out_shift, out_fmt), per sub-row of
// C channels (P = C/L XB words; a row of XB is `heads` sub-rows):
//   S = sum x,  Q = sum x^2,  V = C*(C*Q - S^2) + eps_int         (= sum (C x - S)^2 + eps_int)
//   k = ceil((bitlen(V) - M)/2),  m = V >> 2k (V << -2k),  t = T[m - 2^(M-2)]  (t = 0 if V = 0)
//   n_i = sat_norm(RNE((C t) x_i - S t, R + k - f_norm)),  y_i = sat_out(RNE(g_i n_i + b_i, out_shift))
// Param blob (layout.add_layernorm), popped first: the rsqrt table (NT x 16 bit), gamma (C x 16
// bit), beta (C x 32 bit), each padded to whole beats.
//
// Micro-architecture: the blob goes into three small RAMs (table as beats, gamma and beta as L-lane
// words); then a dataflow region of three processes connected by streams, each a pipelined loop
// at II = 1, so consecutive sub-rows overlap and the per-sub-row scalar chain (two wide products,
// the bit length, a shift, the table read, C*t and S*t) is hidden:
//   ln_sums    one XB word a cycle: lane sums of x and x^2 (L squarers), per-sub-row S and Q;
//              the words go on to ln_norm through a FIFO
//   ln_scalar  one sub-row a cycle: V, k, m, t, C*t, S*t and the normalising shift
//   ln_norm    one word a cycle: d*t = (C t) x - S t (L multipliers), two run-time requantisers,
//              gamma*n + beta (L multipliers), one AM word written
#ifndef SPVIT_OV_NORM_H
#define SPVIT_OV_NORM_H

#include "spvit_ov_core.h"

namespace spvit {

// n words of OB bytes from the param stream (SB-byte beats) into out[0 .. n-1]; pops
// ceil(n*OB/SB) beats (one a cycle when SB >= OB, OB/SB a word otherwise).
template <int SB, int OB, int NMAX>
void gear_in(hls::stream<ap_uint<8 * SB> >& ps, ap_uint<8 * OB> out[NMAX], int n) {
#pragma HLS inline off
  if (SB >= OB) {
    const int WPB = SB >= OB ? SB / OB : 1;
    ap_uint<8 * SB> beat = 0;
  words:
    for (int i = 0; i < n; i++) {
#pragma HLS pipeline II = 1
#pragma HLS loop_tripcount min = 1 max = NMAX
      SPVIT_TRIP();
      if (i % WPB == 0) beat = ps.read();
      out[i] = beat.range(8 * OB * (i % WPB) + 8 * OB - 1, 8 * OB * (i % WPB));
    }
  } else {
    const int BPW = SB >= OB ? 1 : OB / SB;
    ap_uint<8 * OB> w = 0;
  beats:
    for (int i = 0; i < n * BPW; i++) {
#pragma HLS pipeline II = 1
#pragma HLS loop_tripcount min = 1 max = NMAX * (OB / SB + 1)
      SPVIT_TRIP();
      w.range(8 * SB * (i % BPW) + 8 * SB - 1, 8 * SB * (i % BPW)) = ps.read();
      if (i % BPW == BPW - 1) out[i / BPW] = w;
    }
  }
}

template <class C>
struct ln_types {
  typedef ap_int<C::LN_SUM_W> sum_t;    // S
  typedef ap_uint<C::LN_VAR_W> var_t;   // Q, C*Q, S^2, V (all <= V's bound)
  typedef ap_uint<16> tab_t;            // rsqrt table entry
  typedef ap_int<27> ct_t;              // C*t (C < 2^11)
  typedef ap_int<C::LN_SUM_W + 17> st_t;  // S*t
  static const int DT_W = (27 + C::X_W > C::LN_SUM_W + 17 ? 27 + C::X_W : C::LN_SUM_W + 17) + 1;  // d*t
  static const int RT_BEATS = (2 * C::LN_NT + C::SB - 1) / C::SB;
};

template <class C>
struct ln_sq {
  ap_int<C::LN_SUM_W> s;
  ap_uint<C::LN_VAR_W> q;
};

template <class C>
struct ln_tc {
  ap_int<27> ct;               // C * t
  ap_int<C::LN_SUM_W + 17> st;  // S * t
  ap_int<8> sh;                // R + k - f_norm
};

// Process 1: sums of every sub-row.
template <class C>
void ln_sums(const ap_uint<C::X_W * C::L> xb[C::XB_WORDS], int base, int words, int p,
             hls::stream<ap_uint<C::X_W * C::L> >& xs, hls::stream<ln_sq<C> >& sq) {
#pragma HLS inline off
  typedef ln_types<C> T;
  typename T::sum_t s = 0;
  typename T::var_t q = 0;
  int w = 0;
sums:
  for (int i = 0; i < words; i++) {
#pragma HLS pipeline II = 1
#pragma HLS loop_tripcount min = 1 max = C::LN_MAX_WORDS
    SPVIT_TRIP();
    const ap_uint<C::X_W * C::L> xw = xb[base + i];
    xs.write(xw);
    ap_int<C::X_W + C::LG + 1> ws = 0;
    ap_uint<2 * C::X_W + C::LG> wq = 0;
    for (int l = 0; l < C::L; l++) {
#pragma HLS unroll
      const ap_int<C::X_W> x = ap_int<C::X_W>(lane<C::X_W>(xw, l));
      ws += x;
      wq += ap_uint<2 * C::X_W>(x * x);
    }
    s = (w == 0 ? typename T::sum_t(0) : s) + ws;
    q = (w == 0 ? typename T::var_t(0) : q) + wq;
    if (w == p - 1) {
      ln_sq<C> v;
      v.s = s;
      v.q = q;
      sq.write(v);
      w = 0;
    } else {
      w++;
    }
  }
}

// Process 2: the scalar chain of every sub-row.
template <class C>
void ln_scalar(hls::stream<ln_sq<C> >& sq, hls::stream<ln_tc<C> >& tc, int subrows, int channels,
               ap_uint<64> eps, int rsqrt_shift, int norm_frac, const ap_uint<8 * C::SB> rt[ln_types<C>::RT_BEATS]) {
#pragma HLS inline off
  typedef ln_types<C> T;
  const int M = C::LN_M;
scalar:
  for (int j = 0; j < subrows; j++) {
#pragma HLS pipeline II = 1
#pragma HLS loop_tripcount min = 1 max = C::LN_MAX_SUBROWS
    SPVIT_TRIP();
    const ln_sq<C> in = sq.read();
    const typename T::var_t cq = typename T::var_t(in.q * channels);
    const typename T::var_t s2 = typename T::var_t(in.s * in.s);
    const typename T::var_t v = typename T::var_t((cq - s2) * channels) + typename T::var_t(eps);
    int len = 0;
    for (int b = 0; b < C::LN_VAR_W; b++) {
#pragma HLS unroll
      if (v[b]) len = b + 1;
    }
    const int t2 = len - M + 1;
    const int k = t2 >= 0 ? t2 / 2 : -((-t2 + 1) / 2);  // floor((len - M + 1)/2) = ceil((len - M)/2)
    const typename T::var_t mw = k >= 0 ? typename T::var_t(v >> (2 * k)) : typename T::var_t(v << (-2 * k));
    const int idx = v == 0 ? 0 : int(ap_uint<C::LN_M>(mw)) - (1 << (M - 2));  // V = 0: t = 0 below
    const int epb = C::SB / 2;  // table entries a beat
    const ap_uint<8 * C::SB> tb = rt[idx / epb];
    const ap_uint<16> t = v == 0 ? ap_uint<16>(0) : ap_uint<16>(tb.range(16 * (idx % epb) + 15, 16 * (idx % epb)));
    ln_tc<C> out;
    out.ct = ap_int<27>(channels) * ap_int<27>(t);
    out.st = typename T::st_t(in.s) * ap_int<17>(t);
    out.sh = rsqrt_shift + k - norm_frac;
    tc.write(out);
  }
}

// Process 3: normalise, affine, requantise, write.
template <class C>
void ln_norm(hls::stream<ap_uint<C::X_W * C::L> >& xs, hls::stream<ln_tc<C> >& tc, int words, int p,
             const ap_uint<16 * C::L> gam[C::LN_P_MAX], const ap_uint<32 * C::L> bet[C::LN_P_MAX], out_range nrng,
             int out_shift, out_range orng, int d_bank, int d_base, int d_stride, ap_uint<8 * C::L> am0[C::AM0_WORDS],
             ap_uint<8 * C::L> am1[C::AM1_WORDS], ap_uint<8 * C::L> am2[C::AM2_WORDS]) {
#pragma HLS inline off
  typedef ln_types<C> T;
  ln_tc<C> cur;
  cur.ct = 0;
  cur.st = 0;
  cur.sh = 0;
  int w = 0, j = 0;
norm:
  for (int i = 0; i < words; i++) {
#pragma HLS pipeline II = 1
#pragma HLS loop_tripcount min = 1 max = C::LN_MAX_WORDS
#pragma HLS dependence variable = am0 inter false
#pragma HLS dependence variable = am1 inter false
#pragma HLS dependence variable = am2 inter false
    SPVIT_TRIP();
    if (w == 0) cur = tc.read();
    const ap_uint<C::X_W * C::L> xw = xs.read();
    const ap_uint<16 * C::L> gw = gam[w];
    const ap_uint<32 * C::L> bw = bet[w];
    ap_uint<8 * C::L> yw = 0;
    for (int l = 0; l < C::L; l++) {
#pragma HLS unroll
      const ap_int<C::X_W> x = ap_int<C::X_W>(lane<C::X_W>(xw, l));
      const ap_int<T::DT_W> dt = ap_int<T::DT_W>(cur.ct * x) - ap_int<T::DT_W>(cur.st);
      const long long n = requant_rt<T::DT_W>(dt, cur.sh, nrng);
      const ap_int<16> g = ap_int<16>(lane<16>(gw, l));
      const ap_int<32> b = ap_int<32>(lane<32>(bw, l));
      const ap_int<50> aff = ap_int<50>(g * ap_int<17>(n)) + ap_int<50>(b);
      set_lane<8>(yw, l, requant_rt<50>(aff, out_shift, orng));
    }
    am_write<C>(d_bank, d_base + j * d_stride + w, yw, am0, am1, am2);
    if (w == p - 1) {
      w = 0;
      j++;
    } else {
      w++;
    }
  }
}

template <class C>
void ln_rows(const ap_uint<C::X_W * C::L> xb[C::XB_WORDS], int base, int subrows, int p, int channels, ap_uint<64> eps,
             int rsqrt_shift, int norm_frac, const ap_uint<8 * C::SB> rt[ln_types<C>::RT_BEATS],
             const ap_uint<16 * C::L> gam[C::LN_P_MAX], const ap_uint<32 * C::L> bet[C::LN_P_MAX], out_range nrng,
             int out_shift, out_range orng, int d_bank, int d_base, int d_stride, ap_uint<8 * C::L> am0[C::AM0_WORDS],
             ap_uint<8 * C::L> am1[C::AM1_WORDS], ap_uint<8 * C::L> am2[C::AM2_WORDS]) {
#pragma HLS inline off
#pragma HLS dataflow
  hls::stream<ap_uint<C::X_W * C::L> > xs("ln_words");
  hls::stream<ln_sq<C> > sq("ln_sums");
  hls::stream<ln_tc<C> > tc("ln_scalars");
#pragma HLS stream variable = xs depth = C::LN_FIFO
#pragma HLS stream variable = sq depth = 4
#pragma HLS stream variable = tc depth = 4
  const int words = subrows * p;
  ln_sums<C>(xb, base, words, p, xs, sq);
  ln_scalar<C>(sq, tc, subrows, channels, eps, rsqrt_shift, norm_frac, rt);
  ln_norm<C>(xs, tc, words, p, gam, bet, nrng, out_shift, orng, d_bank, d_base, d_stride, am0, am1, am2);
}

// One LAYERNORM instruction over `rows` rows of XB (rows * heads sub-rows).
template <class C, class I>
void ov_layernorm(const I& in, int rows, const ap_uint<C::X_W * C::L> xb[C::XB_WORDS],
                  ap_uint<8 * C::L> am0[C::AM0_WORDS], ap_uint<8 * C::L> am1[C::AM1_WORDS],
                  ap_uint<8 * C::L> am2[C::AM2_WORDS], hls::stream<ap_uint<8 * C::SB> >& ps) {
#pragma HLS inline off
  typedef ln_types<C> T;
  static ap_uint<8 * C::SB> rt[T::RT_BEATS];
  static ap_uint<16 * C::L> gam[C::LN_P_MAX];
  static ap_uint<32 * C::L> bet[C::LN_P_MAX];
  const int channels = in.channels;
  const int p = in.words;
  SPVIT_ASSERT(p >= 1 && p <= C::LN_P_MAX && channels == p * C::L);
rt_load:
  for (int b = 0; b < T::RT_BEATS; b++) {
#pragma HLS pipeline II = 1
    SPVIT_TRIP();
    rt[b] = ps.read();
  }
  gear_in<C::SB, 2 * C::L, C::LN_P_MAX>(ps, gam, p);
  gear_in<C::SB, 4 * C::L, C::LN_P_MAX>(ps, bet, p);
  const int subrows = rows * int(in.heads);
  if (subrows > 0) {
    ln_rows<C>(xb, in.a_base, subrows, p, channels, in.eps, in.rsqrt_shift, in.norm_frac,
               rt, gam, bet, format_range(in.norm_bits, true), in.shift, format_range(in.out_bits, in.out_signed != 0),
               in.d_bank, in.d_base, in.d_stride, am0, am1, am2);
  }
}

}  // namespace spvit

#endif  // SPVIT_OV_NORM_H
