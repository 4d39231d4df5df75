// spvit_ov_selector: the overlay engine's selector unit (issue 10): SPViT's token-selector
// element-wise ops, one instruction at a time (start / busy / done), on the engine's buffers.
//
// Ops (cfg_op) and the config each one reads (every other cfg_* is ignored):
//   0 HEAD_MEAN   U[t][h] = sat_out(RNE(sum_{c in head h} x_c * 2^UP / dh))   (intops.int_head_mean)
//                 x = XB row 1+t (t < N, read as words (1+t)*D/L ..); U row t = AM words
//                 w_base + t*w_stride + h/L, lane h%L (H lanes written, lane enables).
//                 cfg: n, h, dh, dpl, up, out_bits, out_signed, w_bank/base/stride.
//   1 TOKEN_MEAN  G[h][c] = sat_out(RNE(sum_{t<N} F1[t*H+h][half+c] * 2^UP / N)), 0 when N = 0
//                 (intops.int_token_mean); F1 = operand A (signed 8-bit lanes), G = destination
//                 (row h, half values).  cfg: n, h, half, up, out_bits, out_signed, a_*, w_*.
//   2 CONCAT      Z[t*H+h] = [F1[t*H+h][0:half], G[h][0:half]] for t < N (execute.concat);
//                 F1 = operand A, G = operand B, Z = destination.  cfg: n, h, half, a_*, b_*, w_*.
//   3 SELECT      one selector stage (execute.select): for t < N, w = HW row t (operand B, u8
//                 lanes), d_h = DL row t*H+h lane 0 (operand A, signed, d_bits wide):
//                   z_t  = sum_h w_h d_h                                     (Z_W bits, exact)
//                   keep = z_t >= tau (threshold, intops.keep_decision), or the k largest z
//                          (top-k, intops.topk_decision: ties to the lower index; all when k >= N)
//                   p_t  = sat_p(RNE(sum_h w_h s_h * 2^UP / sum_h w_h)), s_h = table[d_h - min];
//                          sum w = 0: sat_p(RNE(sum_h s_h * 2^UP / H))     (intops.int_keep_prob)
//                   pkg_c = RNE(sum_pruned p_j x_jc / sum_pruned p_j); sum p = 0: RNE of the mean of
//                          the pruned tokens; nothing pruned: 0              (intops.int_package_token)
//                 then compacts XB in place to [cls, kept tokens in order, the earlier package
//                 tokens (old rows 1+N .. T-1), pkg] and reports res_kept (the new N) and res_t
//                 (the new T = 1 + kept + (T-1-N) + 1).  The sigmoid table (2^d_bits u8 entries,
//                 layout.ParamStream.add_table8: ceil(2^d_bits/SB) beats, entry i = byte i) is
//                 popped from the param stream first.
//                 cfg: n, t, h, dpl, up (= f_p - f_sig), out_bits (p, unsigned), d_bits, tau, k,
//                 topk, a_* (DL), b_* (HW).
// UP = f_out - f_in; a negative UP multiplies the divisor by 2^-UP instead: one rounding, as
// intops._scaled_div.  Saturation (sat_out, sat_p) to out_bits / out_signed.
//
// Buffers (simple-dual-port RAMs outside; reads return data RD_LAT = 2 cycles after rd_en):
// XB read + write, AM read ports A and B and one AM write port.  am_a_bank / am_b_bank / am_w_bank
// name the bank behind each logical AM port (registered cfg_*_bank) so the top can route them.
// When operands A and B are in one bank the unit reads both through port A, never enabling port
// B (a SELECT then spends ceil(H/L) more slots a token, a CONCAT with half < L two slots a row).
//
// Datapath: reads are issued one a cycle; tags travel with them.  HEAD_MEAN: registered adder
// tree over the L lanes of a word (spvit_ov_selector_tree), per-head sum, divider.  TOKEN_MEAN
// and the package token: L multipliers (q*x, q = 1 or p: DSP with input, M and P registers) into
// an accumulator RAM of DPL_MAX words of L lanes (read-add-write in one cycle), then a drain that
// divides lane by lane.  SELECT scores: one head a slot: w*d and w*s (DSP, input/M/P registers),
// per-token sums, divider for p; z kept per token for the rank pass (L comparators against one
// candidate a cycle, popcount through the adder tree).  One pipelined divider
// (spvit_ov_selector_div, DIV_STEPS quotient bits a stage, one division a cycle) serves every
// op; it saturates on overflow, so only the package token needs the exact Q_W = X_W bits.
// The pass over XB reads rows 1 .. T-1 once: a kept row (or an earlier package) is written to
// the next row of the compacted order (never above the rows still to be read), a pruned row is
// accumulated; the package token row follows.
//
// Cycles from the start cycle to the done cycle (I = ceil(X_W/DIV_STEPS), LW = log2 L, D = L*dpl;
// checked exactly by rtl_sim/tb_ov_selector.py, spvit_fpga.rtl.vectors.ov_selector.selector_cycles):
//   HEAD_MEAN   N*D/L + 16 + LW + I                                   (5 when N = 0)
//   TOKEN_MEAN  N*H*ceil(half/L) + 11 + H*half + I + 10                (H*half + I + 13 when N = 0)
//   CONCAT      N*H*S + 9, S = dh/L slots a row (half < L: 1, or 2 when A and B share a bank)
//                                                                      (5 when N = 0)
//   SELECT      3 + B                                   B = ceil(2^d_bits / SB) table beats
//               + [N > 0]            N*(H + [A, B one bank]*ceil(H/L)) + 17 + I       score
//               + [top-k and k < N]  N*ceil(N/L) + 5 + LW                            rank
//               + [T > 1]            (T-1)*D/L + 8                                   pass
//               + D + I + 10                                                         package token
//               plus one cycle for every cycle the unit waits for a table beat (ps_tvalid low).
//
// Resources: L + 2 multipliers (DSP), one divider, an accumulator LUTRAM of DPL_MAX x L x
// (X_W + 8 + log2(N_MAX+1)) bits, the 256-byte table in registers, per-token scores / p / keep
// (N_MAX entries).  Yosys 0.70 synth_xilinx -family xcup -flatten at the test size (L = 8, N_MAX = 64,
// H_MAX = 12, DPL_MAX = 16, SB = 32): 4.5 k LUT, 5.4 k FF, 39 LUTRAM, 65 SRL16E, 10 DSP48E2; longest
// register-to-register path (ltp over LUT/MUXF/CARRY cells): the divider's two restoring steps,
// 5 LUTs and two carry chains (6 + 1 CARRY4); longest LUT-only path 7 levels, in the sequencer
// (counter equality -> phase end).  Yosys 0.70 leaves the multipliers' A/B, M and P registers as
// fabric flip-flops beside DSP48E2 (it absorbs the same pattern into a DSP48E1 for xc7).
//
// Preconditions (the generator checks them): L a power of two >= 2; 1 <= H <= H_MAX; dh a
// multiple of L, dh <= DH_MAX; half a multiple of L or half = L/2 (then dh = L); D/L <= DPL_MAX,
// and H*dh = D for HEAD_MEAN; N <= N_MAX, T <= T_MAX - 1 (the package row is T), 1 + N <= T;
// -DN_MAX <= UP <= UP_MAX; 1 <= out_bits <= 8; delta in d_bits <= 8 bits (sign-extended in its
// lane); head weights u8; Z_W >= keep_decision_bits(u8, s8, H) and Z_W >= 17; tau sign-extended
// to Z_W bits; no tensor overlaps another operand of the same instruction; start only while idle.
module spvit_ov_selector #(
    parameter int L         = 8,     // lanes of a buffer word (power of two >= 2)
    parameter int X_W       = 16,    // residual (XB) lane width, signed
    parameter int SB        = 32,    // param-stream bytes a beat
    parameter int N_MAX     = 64,    // most live patch tokens
    parameter int T_MAX     = 68,    // most XB rows (1 + N_MAX + stages)
    parameter int H_MAX     = 12,    // most heads
    parameter int DH_MAX    = 64,    // largest head width
    parameter int DPL_MAX   = 16,    // most words a XB row (D/L)
    parameter int Z_W       = 20,    // score and tau width (>= intops.keep_decision_bits(u8, s8, H), >= 17)
    parameter int UP_MAX    = 4,     // largest positive UP
    parameter int DN_MAX    = 8,     // largest negative UP, as -UP
    parameter int XB_AW     = 12,    // XB word address width
    parameter int AM_AW     = 12,    // AM word address width
    parameter int DIV_STEPS = 2      // quotient bits a divider stage
) (
    input  logic                   clk,
    input  logic                   rst_n,
    // ---- control
    input  logic                   start,         // one-cycle pulse; cfg_* valid in that cycle
    output logic                   busy,          // high from the cycle after start to the cycle before done
    output logic                   done,          // one-cycle pulse: every write committed
    // ---- config (registered at start)
    input  logic [1:0]             cfg_op,        // 0 HEAD_MEAN, 1 TOKEN_MEAN, 2 CONCAT, 3 SELECT
    input  logic [$clog2(N_MAX+1)-1:0]         cfg_n,         // live patch tokens N
    input  logic [$clog2(T_MAX+1)-1:0]         cfg_t,         // SELECT: tokens in XB, T
    input  logic [$clog2(H_MAX+1)-1:0]        cfg_h,         // heads H (1..H_MAX)
    input  logic [$clog2(DH_MAX+1)-1:0]       cfg_dh,        // HEAD_MEAN: head width dh (multiple of L)
    input  logic [$clog2(DH_MAX+1)-1:0]       cfg_half,      // TOKEN_MEAN / CONCAT: half = dh/2 (L/2 or a multiple of L)
    input  logic [$clog2(DPL_MAX+1)-1:0]       cfg_dpl,       // words a XB row, D/L
    input  logic [$clog2(((UP_MAX > DN_MAX) ? UP_MAX : DN_MAX)+1):0]        cfg_up,        // UP, signed: f_out - f_in (means), f_p - f_sig (SELECT)
    input  logic [3:0]             cfg_out_bits,  // output format bits, 1..8 (u, g, p)
    input  logic                   cfg_out_signed,// output format signed (p: unsigned)
    input  logic [3:0]             cfg_d_bits,    // SELECT: delta bits, 1..8 (table of 2^d_bits entries)
    input  logic [Z_W-1:0]         cfg_tau,       // SELECT: threshold, signed
    input  logic [$clog2(N_MAX+1)-1:0]         cfg_k,         // SELECT: top-k count
    input  logic                   cfg_topk,      // SELECT: 0 threshold rule, 1 top-k rule
    input  logic [1:0]             cfg_a_bank,    // operand A: F1 (TOKEN_MEAN, CONCAT), DL (SELECT)
    input  logic [AM_AW-1:0]       cfg_a_base,
    input  logic [AM_AW-1:0]       cfg_a_stride,
    input  logic [1:0]             cfg_b_bank,    // operand B: G (CONCAT), HW (SELECT)
    input  logic [AM_AW-1:0]       cfg_b_base,
    input  logic [AM_AW-1:0]       cfg_b_stride,
    input  logic [1:0]             cfg_w_bank,    // destination: U (HEAD_MEAN), G (TOKEN_MEAN), Z (CONCAT)
    input  logic [AM_AW-1:0]       cfg_w_base,
    input  logic [AM_AW-1:0]       cfg_w_stride,
    // ---- AM bank of each logical port (registered config; a_bank == b_bank: port B unused)
    output logic [1:0]             am_a_bank,
    output logic [1:0]             am_b_bank,
    output logic [1:0]             am_w_bank,
    // ---- AM read port A, read port B, write port (L lanes of 8 bits)
    output logic                   am_a_rd_en,
    output logic [AM_AW-1:0]       am_a_rd_addr,
    input  logic [L*8-1:0]         am_a_rd_data,
    output logic                   am_b_rd_en,
    output logic [AM_AW-1:0]       am_b_rd_addr,
    input  logic [L*8-1:0]         am_b_rd_data,
    output logic                   am_wr_en,
    output logic [AM_AW-1:0]       am_wr_addr,
    output logic [L-1:0]           am_wr_be,
    output logic [L*8-1:0]         am_wr_data,
    // ---- XB read and write port (L lanes of X_W bits)
    output logic                   xb_rd_en,
    output logic [XB_AW-1:0]       xb_rd_addr,
    input  logic [L*X_W-1:0]       xb_rd_data,
    output logic                   xb_wr_en,
    output logic [XB_AW-1:0]       xb_wr_addr,
    output logic [L-1:0]           xb_wr_be,
    output logic [L*X_W-1:0]       xb_wr_data,
    // ---- param stream (SELECT: the sigmoid table)
    input  logic [SB*8-1:0]        ps_tdata,
    input  logic                   ps_tvalid,
    output logic                   ps_tready,
    // ---- SELECT results (from done until the next start)
    output logic [$clog2(N_MAX+1)-1:0]         res_kept,      // kept patch tokens: the new N
    output logic [$clog2(T_MAX+1)-1:0]         res_t          // the new T = 1 + kept + (T-1-N) + 1
);
  // ==============================================================================================
  // widths
  // ==============================================================================================
  localparam int N_W = $clog2(N_MAX + 1);
  localparam int T_W = $clog2(T_MAX + 1);
  localparam int HC_W = $clog2(H_MAX + 1);
  localparam int DHC_W = $clog2(DH_MAX + 1);
  localparam int DPC_W = $clog2(DPL_MAX + 1);
  localparam int SHM = (UP_MAX > DN_MAX) ? UP_MAX : DN_MAX;
  localparam int SH_W = $clog2(SHM + 1) + 1;
  localparam int LW = $clog2(L);
  localparam int TI_W = (N_MAX > 1) ? $clog2(N_MAX) : 1;          // token index
  localparam int ZD = (N_MAX + L - 1) / L;                         // score words
  localparam int ZI_W = (ZD > 1) ? $clog2(ZD) : 1;
  localparam int DI_W = (DPL_MAX > 1) ? $clog2(DPL_MAX) : 1;       // accumulator word index
  localparam int AD_W = (XB_AW > AM_AW) ? XB_AW : AM_AW;           // a destination address
  localparam int CH_W = HC_W + LW;                                 // head counter (lane bits)
  localparam int CT_W0 = (T_W > N_W) ? T_W : N_W;
  localparam int CT_W = (CT_W0 > DPC_W) ? CT_W0 : DPC_W;           // token / row / word counter
  localparam int CW_W0 = (DHC_W > DPC_W) ? DHC_W : DPC_W;
  localparam int CW_W = ((CW_W0 > LW + 1) ? CW_W0 : LW + 1) + 1;   // word / slot / lane counter
  localparam int A_W = X_W + 8 + N_W;                              // accumulator lane (sum of q*x)
  localparam int PR_W = X_W + 9;                                   // product q*x (q unsigned 8 bits)
  localparam int TS_W = X_W + LW;                                  // tree sum
  localparam int S_W = X_W + DHC_W;                                // head sum
  localparam int WS_W = 8 + HC_W;                                  // sum w, sum sigma
  localparam int KA_W = 17 + HC_W;                                 // sum w*sigma (signed container)
  localparam int PS_W = 8 + N_W;                                   // sum p
  localparam int CNT_W = ((N_W > LW) ? N_W : LW) + 2;              // rank count
  localparam int NUM0_W1 = (S_W > A_W) ? S_W : A_W;
  localparam int NUM0_W = (NUM0_W1 > KA_W) ? NUM0_W1 : KA_W;       // numerator before the shift
  localparam int NUM_W = NUM0_W + UP_MAX;
  localparam int DEN0_W1 = (DHC_W > N_W) ? DHC_W : N_W;
  localparam int DEN0_W2 = (DEN0_W1 > WS_W) ? DEN0_W1 : WS_W;
  localparam int DEN0_W = (DEN0_W2 > PS_W) ? DEN0_W2 : PS_W;       // denominator before the shift
  localparam int DEN_W = DEN0_W + DN_MAX;
  localparam int Q_W = X_W;                                        // quotient bits (package token)
  localparam int DQ_W = ((Q_W + DIV_STEPS - 1) / DIV_STEPS) * DIV_STEPS + 2;
  localparam int TB = (256 + SB - 1) / SB;                         // most table beats
  localparam int LB_W = $clog2(TB + 1);
  localparam int LR_W = $clog2(SB + 257) + 1;                      // table bytes left
  localparam int DTAG_W = 2 + LW + 1 + AD_W + 1;                   // divider tag
  localparam int TTAG_W = 3 + LW + AD_W;                           // tree tag

  localparam logic [1:0] OP_HM = 2'd0, OP_TM = 2'd1, OP_CAT = 2'd2, OP_SEL = 2'd3;
  localparam logic [1:0] DS_P = 2'd0, DS_AM = 2'd1, DS_XB = 2'd2;  // divider result destination
  localparam logic [2:0] K_HM = 3'd0, K_TM = 3'd1, K_CAT = 3'd2, K_SC = 3'd3, K_PS = 3'd4;  // read kinds
  localparam logic [2:0] CM_A = 3'd0, CM_B = 3'd1, CM_AB = 3'd2, CM_HOLD = 3'd3, CM_HB = 3'd4;  // concat
  localparam int HL = L / 2;

  // phases, one-hot: bit P_<name> of a phase value is set for that phase
  localparam int P_IDLE = 0;
  localparam int P_PREP = 1;
  localparam int P_PREP2 = 2;
  localparam int P_LOAD = 3;
  localparam int P_HM = 4;
  localparam int P_TM = 5;
  localparam int P_CAT = 6;
  localparam int P_SCORE = 7;
  localparam int P_RANK = 8;
  localparam int P_PASS = 9;
  localparam int P_DRAIN = 10;
  localparam int P_WAIT = 11;
  typedef enum logic [11:0] {
    PH_IDLE = 12'd1,
    PH_PREP = 12'd2,
    PH_PREP2 = 12'd4,
    PH_LOAD = 12'd8,
    PH_HM = 12'd16,
    PH_TM = 12'd32,
    PH_CAT = 12'd64,
    PH_SCORE = 12'd128,
    PH_RANK = 12'd256,
    PH_PASS = 12'd512,
    PH_DRAIN = 12'd1024,
    PH_WAIT = 12'd2048
  } ph_t;

  ph_t ph, ph_nx, first_ph, after_load, after_issue, enter_ph;
  logic enter, is_last, ld_last, pipe_empty, issuing, wait_ok;
  logic [2:0] wcnt;
  logic [TI_W-1:0] ka_t;

  // ==============================================================================================
  // configuration and derived values
  // ==============================================================================================
  logic [1:0] r_op;
  logic [N_W-1:0] r_n, r_k;
  logic [T_W-1:0] r_t;
  logic [HC_W-1:0] r_h;
  logic [DHC_W-1:0] r_dh, r_half;
  logic [DPC_W-1:0] r_dpl;
  logic [SH_W-1:0] r_up;
  logic [3:0] r_ob, r_db;
  logic r_os, r_topk;
  logic [Z_W-1:0] r_tau;
  logic [AM_AW-1:0] r_abase, r_astr, r_bbase, r_bstr, r_wbase, r_wstr;

  always_ff @(posedge clk) begin
    if (start && !busy) begin
      r_op <= cfg_op;
      r_n <= cfg_n;
      r_t <= cfg_t;
      r_h <= cfg_h;
      r_dh <= cfg_dh;
      r_half <= cfg_half;
      r_dpl <= cfg_dpl;
      r_up <= cfg_up;
      r_ob <= cfg_out_bits;
      r_os <= cfg_out_signed;
      r_db <= cfg_d_bits;
      r_tau <= cfg_tau;
      r_k <= cfg_k;
      r_topk <= cfg_topk;
      am_a_bank <= cfg_a_bank;
      am_b_bank <= cfg_b_bank;
      am_w_bank <= cfg_w_bank;
      r_abase <= cfg_a_base;
      r_astr <= cfg_a_stride;
      r_bbase <= cfg_b_base;
      r_bstr <= cfg_b_stride;
      r_wbase <= cfg_w_base;
      r_wstr <= cfg_w_stride;
    end
  end

  // derived in the PREP cycle
  logic d_same, d_full, d_rank;
  logic [SH_W-2:0] d_ups, d_dns;
  logic [CW_W-1:0] d_wphm1, d_hwdm1, d_sprm1, d_lnm1, d_nwzm1, d_dplm1, d_hwd;
  logic [CH_W-1:0] d_hm1;
  logic [CT_W-1:0] d_nm1, d_tm2;
  logic [ZI_W:0] d_nhi;
  logic [LW-1:0] d_nlo;
  logic [DQ_W-1:0] d_smin, d_smax;
  logic [7:0] d_doff;

  always_ff @(posedge clk) begin
    if (ph[P_PREP]) begin
      d_same <= (am_a_bank == am_b_bank);
      d_ups <= r_up[SH_W-1] ? '0 : r_up[SH_W-2:0];
      d_dns <= r_up[SH_W-1] ? (SH_W-1)'(-r_up) : '0;
      d_full <= (r_half >= DHC_W'(L));
      d_hwd <= (r_half >= DHC_W'(L)) ? CW_W'(r_half >> LW) : CW_W'(1);
      d_hwdm1 <= (r_half >= DHC_W'(L)) ? CW_W'(r_half >> LW) - CW_W'(1) : '0;
      d_sprm1 <= (r_half >= DHC_W'(L)) ? CW_W'(r_half >> (LW - 1)) - CW_W'(1)
                                       : ((am_a_bank == am_b_bank) ? CW_W'(1) : CW_W'(0));
      d_lnm1 <= (r_op == OP_SEL || r_half >= DHC_W'(L)) ? CW_W'(L - 1) : CW_W'(r_half) - CW_W'(1);
      d_wphm1 <= CW_W'(r_dh >> LW) - CW_W'(1);
      d_nwzm1 <= CW_W'(((CT_W + LW)'(r_n) + (CT_W + LW)'(L - 1)) >> LW) - CW_W'(1);  // no wrap: N + L - 1 may exceed 2^CT_W
      d_dplm1 <= CW_W'(r_dpl) - CW_W'(1);
      d_hm1 <= CH_W'(r_h) - CH_W'(1);
      d_nm1 <= CT_W'(r_n) - CT_W'(1);
      d_tm2 <= CT_W'(r_t) - CT_W'(2);
      d_nhi <= (ZI_W + 1)'(r_n >> LW);
      d_nlo <= r_n[LW-1:0];
      d_rank <= r_topk && (r_k < r_n);
      d_smax <= r_os ? (DQ_W'(1) << (r_ob - 4'd1)) - DQ_W'(1) : (DQ_W'(1) << r_ob) - DQ_W'(1);
      d_smin <= r_os ? -(DQ_W'(1) << (r_ob - 4'd1)) : '0;
      d_doff <= 8'(9'd1 << (r_db - 4'd1));
    end
  end

  // ==============================================================================================
  // phases
  // ==============================================================================================
  always_comb begin : p_next
    unique case (r_op)
      OP_HM:   first_ph = (r_n != '0) ? PH_HM : PH_IDLE;
      OP_TM:   first_ph = (r_n != '0) ? PH_TM : PH_DRAIN;
      OP_CAT:  first_ph = (r_n != '0) ? PH_CAT : PH_IDLE;
      default: first_ph = PH_LOAD;
    endcase
    after_load = (r_n != '0) ? PH_SCORE : ((r_t > T_W'(1)) ? PH_PASS : PH_DRAIN);
    unique case (1'b1)
      ph[P_TM]:    after_issue = PH_DRAIN;
      ph[P_SCORE]: after_issue = d_rank ? PH_RANK : PH_PASS;
      ph[P_RANK]:  after_issue = PH_PASS;
      ph[P_PASS]:  after_issue = PH_DRAIN;
      default:  after_issue = PH_IDLE;
    endcase
    // the phase entered next is a function of the state alone; the timing conditions only enable it
    if (ph[P_PREP2]) begin
      enter_ph = first_ph;
    end else if (ph[P_LOAD]) begin
      enter_ph = after_load;
    end else begin
      enter_ph = ph_nx;
    end
    enter = (ph[P_PREP2] && !first_ph[P_IDLE]) || (ph[P_LOAD] && ld_last)
            || (ph[P_WAIT] && wait_ok && !ph_nx[P_IDLE]);
  end

  assign issuing = (ph[P_HM]) || (ph[P_TM]) || (ph[P_CAT]) || (ph[P_SCORE]) || (ph[P_RANK])
                   || (ph[P_PASS]) || (ph[P_DRAIN]);
  assign busy = (!ph[P_IDLE]);

  // The pass ends with a kept token's copy (XB write 4 cycles after its read is issued) or a
  // pruned token's accumulation (6 cycles): the wait after the pass always covers the longer one,
  // so the cycle count does not depend on the data.
  always_ff @(posedge clk) begin
    if (!rst_n || ph[P_PREP2]) begin
      wcnt <= '0;
    end else if (issuing && is_last) begin
      wcnt <= (ph[P_PASS]) ? 3'd6 : 3'd0;
    end else if (ph[P_WAIT] && wcnt != '0) begin
      wcnt <= wcnt - 1'b1;
    end
  end
  // registered: nothing enters a pipeline during a wait, so "empty last cycle" is "empty now",
  // and the 25-input AND stays off the phase and counter logic
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      wait_ok <= 1'b0;
    end else begin
      wait_ok <= (ph[P_WAIT]) && pipe_empty && (wcnt == '0);
    end
  end

  // SELECT statistics
  logic [N_W-1:0] kept, npr;
  logic [PS_W-1:0] psum;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      ph <= PH_IDLE;
      ph_nx <= PH_IDLE;
      done <= 1'b0;
    end else begin
      done <= (ph[P_WAIT]) && wait_ok && (ph_nx[P_IDLE]);
      unique case (1'b1)
        ph[P_IDLE]: begin
          if (start) begin
            ph <= PH_PREP;
          end
        end
        ph[P_PREP]: ph <= PH_PREP2;     // the derived values are registered in PREP
        ph[P_PREP2]: begin
          if (first_ph[P_IDLE]) begin
            ph <= PH_WAIT;
            ph_nx <= PH_IDLE;
          end else begin
            ph <= first_ph;
          end
        end
        ph[P_LOAD]: begin
          if (ld_last) begin
            ph <= after_load;
          end
        end
        ph[P_WAIT]: begin
          if (wait_ok) begin
            ph <= ph_nx;             // PH_IDLE: the instruction is done
          end
        end
        default: begin               // the issue phases
          if (is_last) begin
            ph <= PH_WAIT;
            ph_nx <= after_issue;
          end
        end
      endcase
    end
  end

  always_ff @(posedge clk) begin
    if (ph[P_WAIT] && wait_ok && ph_nx[P_IDLE] && r_op == OP_SEL) begin
      res_kept <= kept;
      res_t <= T_W'(r_t - T_W'(r_n) + T_W'(kept) + T_W'(1));
    end
  end

  // ==============================================================================================
  // param stream: the sigmoid table (SELECT)
  // ==============================================================================================
  logic [255:0][7:0] tab;
  logic [LB_W-1:0] lb;
  logic [LR_W-1:0] lrem;
  logic ps_fire;
  assign ps_tready = (ph[P_LOAD]);
  assign ps_fire = ps_tvalid && ps_tready;
  assign ld_last = ps_fire && (lrem <= LR_W'(SB));

  always_ff @(posedge clk) begin
    if (ph[P_PREP]) begin
      lb <= '0;
      lrem <= LR_W'(10'd1 << r_db);
    end else if (ps_fire) begin
      lb <= lb + 1'b1;
      lrem <= lrem - LR_W'(SB);
    end
  end

  always_ff @(posedge clk) begin
    if (ps_fire) begin
      for (int b = 0; b < TB; b++) begin
        if (lb == LB_W'(b)) begin
          for (int i = 0; i < SB; i++) begin
            if (b * SB + i < 256) begin
              tab[b*SB+i] <= ps_tdata[i*8+:8];
            end
          end
        end
      end
    end
  end

  // ==============================================================================================
  // read issue: one slot a cycle in the issue phases
  // ==============================================================================================
  logic [CT_W-1:0] c_t;
  logic [CH_W-1:0] c_h;
  logic [CW_W-1:0] c_w;
  logic [DPC_W-1:0] c_i;
  logic c_x;
  logic [XB_AW-1:0] ptr_x, wp;
  logic [AM_AW-1:0] ptr_a, ptr_b;
  logic [AD_W-1:0] ptr_o;

  // the issue counters' limits in the current phase (loaded on entry) and their equality flags
  logic [CW_W-1:0] lim_w;
  logic [CT_W-1:0] lim_t;
  logic use_t, use_h, use_i;
  logic eq_w, eq_t, eq_h, eq_i, at_end;
  assign eq_w = (c_w == lim_w);
  assign eq_t = (c_t == lim_t);
  assign eq_h = (c_h == d_hm1);
  assign eq_i = (c_i == DPC_W'(d_hwdm1));
  assign at_end = eq_w && (eq_t || !use_t) && (eq_h || !use_h) && (eq_i || !use_i);

  always_ff @(posedge clk) begin
    if (enter) begin
      use_t <= !(enter_ph[P_DRAIN] && r_op == OP_TM);
      use_h <= (enter_ph[P_HM]) || (enter_ph[P_TM]) || (enter_ph[P_CAT]) || (enter_ph[P_SCORE])
               || (enter_ph[P_DRAIN] && r_op == OP_TM);
      use_i <= (enter_ph[P_DRAIN] && r_op == OP_TM);
      unique case (1'b1)
        enter_ph[P_HM]:    lim_w <= d_wphm1;
        enter_ph[P_TM]:    lim_w <= d_hwdm1;
        enter_ph[P_CAT]:   lim_w <= d_sprm1;
        enter_ph[P_RANK]:  lim_w <= d_nwzm1;
        enter_ph[P_PASS]:  lim_w <= d_dplm1;
        enter_ph[P_DRAIN]: lim_w <= d_lnm1;
        default:  lim_w <= '0;     // SCORE: c_w stays 0
      endcase
      unique case (1'b1)
        enter_ph[P_PASS]:  lim_t <= d_tm2;
        enter_ph[P_DRAIN]: lim_t <= CT_W'(d_dplm1);
        default:  lim_t <= d_nm1;
      endcase
    end
  end

  logic is_xb, is_a, is_b;
  logic [XB_AW-1:0] is_xb_addr;
  logic [AM_AW-1:0] is_a_addr, is_b_addr;
  logic [2:0] is_k;
  logic [3:0] is_f;
  logic [7:0] is_q;
  logic [CT_W-1:0] is_i;
  logic [AD_W-1:0] is_ad;
  logic need_hw, ps_keep;

  // internal per-token memories (SELECT)
  logic [N_MAX-1:0] keepv;
  logic [7:0] pmem[N_MAX];
  logic [TI_W-1:0] pm_ra;
  logic [7:0] pm_rd;
  assign pm_rd = pmem[pm_ra];

  // SELECT score with HW and DL in one bank: an HW slot before the first head of each lane group
  // (registered: the head counter's next value starts a group)
  always_ff @(posedge clk) begin
    if (enter) begin
      need_hw <= d_same;
    end else if (ph[P_SCORE]) begin
      need_hw <= !need_hw && d_same && (eq_h || c_h[LW-1:0] == LW'(L - 1));
    end
  end
  // the pass's keep flag of row 1+c_t: a shift register loaded on entering the pass with every
  // token's decision (rows at or past N, the earlier packages, count as kept) and shifted as c_t
  // steps, instead of keepv[c_t] (an N_MAX-way mux behind the token counter, 9 LUT levels into the
  // issue tags at N_MAX = 196).  keepv is final on entry: the pass follows a wait on an empty pipeline.
  // past_n[i] = (i >= N) as a register (r_n is fixed from the cycle after start; the pass starts
  // cycles later), so the load is one OR a bit (the compare behind the load's enable was 8 levels)
  logic [N_MAX-1:0] kq, past_n;
  always_ff @(posedge clk) begin
    for (int i = 0; i < N_MAX; i++) begin
      past_n[i] <= (N_W'(i) >= r_n);
    end
  end
  always_ff @(posedge clk) begin
    if (enter && enter_ph[P_PASS]) begin
      kq <= keepv | past_n;
    end else if (ph[P_PASS] && eq_w) begin
      kq <= (kq >> 1) | (N_MAX'(1) << (N_MAX - 1));
    end
  end
  assign ps_keep = kq[0];

  always_comb begin : p_issue
    is_xb = 1'b0;
    is_a = 1'b0;
    is_b = 1'b0;
    is_xb_addr = ptr_x;
    is_a_addr = ptr_a;
    is_b_addr = ptr_b;
    is_k = K_HM;
    is_f = '0;
    is_q = 8'd1;
    is_i = c_t;
    is_ad = '0;
    is_last = 1'b0;
    unique case (1'b1)
      ph[P_HM]: begin
        is_xb = 1'b1;
        is_k = K_HM;
        is_f[0] = (c_w == '0);
        is_f[1] = eq_w;
        is_f[2] = eq_h || (c_h[LW-1:0] == LW'(L - 1));
        is_i = CT_W'(c_h);
        is_ad = ptr_o + AD_W'(c_h >> LW);
        is_last = at_end;
      end
      ph[P_TM]: begin
        is_a = 1'b1;
        is_a_addr = ptr_a + (d_full ? AM_AW'(d_hwd) : '0) + AM_AW'(c_w);
        is_k = K_TM;
        is_f[0] = (c_t == '0);
        is_i = CT_W'(c_i);
        is_last = at_end;
      end
      ph[P_CAT]: begin
        is_k = K_CAT;
        is_ad = AD_W'(ptr_o) + AD_W'(c_w);
        if (d_full) begin
          if (c_w < d_hwd) begin
            is_a = 1'b1;
            is_a_addr = ptr_a + AM_AW'(c_w);
            is_f[2:0] = CM_A;
          end else begin
            is_b = 1'b1;
            is_b_addr = ptr_b + AM_AW'(c_w - d_hwd);
            is_f[2:0] = CM_B;
          end
        end else if (!d_same) begin
          is_a = 1'b1;
          is_b = 1'b1;
          is_f[2:0] = CM_AB;
        end else if (c_w == '0) begin
          is_a = 1'b1;
          is_f[2:0] = CM_HOLD;
        end else begin
          is_b = 1'b1;
          is_f[2:0] = CM_HB;
          is_ad = AD_W'(ptr_o);
        end
        is_last = at_end;
      end
      ph[P_SCORE]: begin
        is_k = K_SC;
        is_b_addr = ptr_b + AM_AW'(c_h >> LW);
        is_i = c_t;
        is_ad = AD_W'(c_h[LW-1:0]);
        if (need_hw) begin
          is_b = 1'b1;
          is_f[0] = 1'b1;
        end else begin
          is_a = 1'b1;
          is_b = !d_same && (c_h[LW-1:0] == '0);
          is_f[0] = is_b;
          is_f[1] = 1'b1;
          is_f[2] = (c_h == '0);
          is_f[3] = eq_h;
          is_last = at_end;
        end
      end
      ph[P_RANK]: begin
        is_last = at_end;
      end
      ph[P_PASS]: begin
        is_xb = 1'b1;
        is_k = K_PS;
        is_f[0] = ps_keep;
        is_f[1] = !ps_keep;
        is_f[2] = !ps_keep && !c_x;
        is_q = (psum != '0) ? pm_rd : 8'd1;
        is_i = CT_W'(c_w);
        is_last = at_end;
      end
      ph[P_DRAIN]: begin
        is_last = at_end;
      end
      default: ;
    endcase
  end

  assign pm_ra = (ph[P_PASS]) ? TI_W'(c_t) : ka_t;

  always_ff @(posedge clk) begin
    if (enter) begin
      c_t <= '0;
      c_h <= '0;
      c_w <= '0;
      c_i <= '0;
      c_x <= 1'b0;
      ptr_x <= XB_AW'(r_dpl);
      ptr_a <= r_abase;
      ptr_b <= r_bbase;
      ptr_o <= (enter_ph[P_DRAIN] && r_op == OP_SEL) ? AD_W'(wp) : AD_W'(r_wbase);
    end else if (issuing) begin
      unique case (1'b1)
        ph[P_HM]: begin
          ptr_x <= ptr_x + 1'b1;
          if (eq_w) begin
            c_w <= '0;
            if (eq_h) begin
              c_h <= '0;
              c_t <= c_t + 1'b1;
              ptr_o <= ptr_o + AD_W'(r_wstr);
            end else begin
              c_h <= c_h + 1'b1;
            end
          end else begin
            c_w <= c_w + 1'b1;
          end
        end
        ph[P_TM]: begin
          c_i <= c_i + 1'b1;
          if (eq_w) begin
            c_w <= '0;
            ptr_a <= ptr_a + r_astr;
            if (eq_h) begin
              c_h <= '0;
              c_t <= c_t + 1'b1;
              c_i <= '0;
            end else begin
              c_h <= c_h + 1'b1;
            end
          end else begin
            c_w <= c_w + 1'b1;
          end
        end
        ph[P_CAT]: begin
          if (eq_w) begin
            c_w <= '0;
            ptr_a <= ptr_a + r_astr;
            ptr_o <= ptr_o + AD_W'(r_wstr);
            if (eq_h) begin
              c_h <= '0;
              c_t <= c_t + 1'b1;
              ptr_b <= r_bbase;
            end else begin
              c_h <= c_h + 1'b1;
              ptr_b <= ptr_b + r_bstr;
            end
          end else begin
            c_w <= c_w + 1'b1;
          end
        end
        ph[P_SCORE]: begin
          if (!need_hw) begin
            ptr_a <= ptr_a + r_astr;
            if (eq_h) begin
              c_h <= '0;
              c_t <= c_t + 1'b1;
              ptr_b <= ptr_b + r_bstr;
            end else begin
              c_h <= c_h + 1'b1;
            end
          end
        end
        ph[P_RANK]: begin
          if (eq_w) begin
            c_w <= '0;
            c_t <= c_t + 1'b1;
          end else begin
            c_w <= c_w + 1'b1;
          end
        end
        ph[P_PASS]: begin
          ptr_x <= ptr_x + 1'b1;
          if (eq_w) begin
            c_w <= '0;
            c_t <= c_t + 1'b1;
            if (!ps_keep) begin
              c_x <= 1'b1;
            end
          end else begin
            c_w <= c_w + 1'b1;
          end
        end
        ph[P_DRAIN]: begin
          if (eq_w) begin
            c_w <= '0;
            c_t <= c_t + 1'b1;
            if (r_op == OP_TM) begin
              if (eq_i) begin
                c_i <= '0;
                c_h <= c_h + 1'b1;
                ptr_o <= ptr_o + AD_W'(r_wstr);
              end else begin
                c_i <= c_i + 1'b1;
              end
            end
          end else begin
            c_w <= c_w + 1'b1;
          end
        end
        default: ;
      endcase
    end
  end

  // ---- port registers and the read tags (tag 0: the port cycle, tag 2: data arrives) ---------
  logic [2:0] tg_v;
  logic [2:0] tg_k0, tg_k1, tg_k2;
  logic [3:0] tg_f0, tg_f1, tg_f2;
  logic [7:0] tg_q0, tg_q1, tg_q2;
  logic [CT_W-1:0] tg_i0, tg_i1, tg_i2;
  logic [AD_W-1:0] tg_ad0, tg_ad1, tg_ad2;
  logic is_port;
  assign is_port = issuing && (is_xb || is_a || is_b);

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      xb_rd_en <= 1'b0;
      am_a_rd_en <= 1'b0;
      am_b_rd_en <= 1'b0;
      tg_v <= '0;
    end else begin
      xb_rd_en <= issuing && is_xb;
      am_a_rd_en <= issuing && (is_a || (d_same && is_b));
      am_b_rd_en <= issuing && is_b && !d_same;
      tg_v <= {tg_v[1:0], is_port};
    end
  end

  always_ff @(posedge clk) begin
    xb_rd_addr <= is_xb_addr;
    am_a_rd_addr <= (d_same && is_b) ? is_b_addr : is_a_addr;
    am_b_rd_addr <= is_b_addr;
    {tg_k2, tg_k1, tg_k0} <= {tg_k1, tg_k0, is_k};
    {tg_f2, tg_f1, tg_f0} <= {tg_f1, tg_f0, is_f};
    {tg_q2, tg_q1, tg_q0} <= {tg_q1, tg_q0, is_q};
    {tg_i2, tg_i1, tg_i0} <= {tg_i1, tg_i0, is_i};
    {tg_ad2, tg_ad1, tg_ad0} <= {tg_ad1, tg_ad0, is_ad};
  end

  // ---- arriving data -----------------------------------------------------------------------------
  logic [L-1:0][X_W-1:0] xbd;
  logic [L-1:0][7:0] ad8, bd8;
  logic arr_hm, arr_tm, arr_cat, arr_sc, arr_ps;
  assign xbd = xb_rd_data;
  assign ad8 = am_a_rd_data;
  assign bd8 = d_same ? am_a_rd_data : am_b_rd_data;
  assign arr_hm = tg_v[2] && (tg_k2 == K_HM);
  assign arr_tm = tg_v[2] && (tg_k2 == K_TM);
  assign arr_cat = tg_v[2] && (tg_k2 == K_CAT);
  assign arr_sc = tg_v[2] && (tg_k2 == K_SC);
  assign arr_ps = tg_v[2] && (tg_k2 == K_PS);

  // ==============================================================================================
  // CONCAT: the arriving word(s) become one Z word
  // ==============================================================================================
  logic [HL-1:0][7:0] hold;
  logic cat_wr;
  logic [L-1:0][7:0] cat_data;
  always_comb begin : p_cat
    cat_wr = arr_cat && (tg_f2[2:0] != CM_HOLD);
    cat_data = ad8;
    unique case (tg_f2[2:0])
      CM_B: cat_data = bd8;
      CM_AB: begin
        for (int l = 0; l < HL; l++) begin
          cat_data[l] = ad8[l];
          cat_data[HL+l] = bd8[l];
        end
      end
      CM_HB: begin
        for (int l = 0; l < HL; l++) begin
          cat_data[l] = hold[l];
          cat_data[HL+l] = bd8[l];
        end
      end
      default: ;
    endcase
  end

  always_ff @(posedge clk) begin
    if (arr_cat && tg_f2[2:0] == CM_HOLD) begin
      for (int l = 0; l < HL; l++) begin
        hold[l] <= ad8[l];
      end
    end
  end

  // ==============================================================================================
  // adder tree: HEAD_MEAN lane sums, top-k rank popcount
  // ==============================================================================================
  logic k1_v;
  logic [L-1:0] k1_b;
  logic k1_first, k1_last;
  logic [TI_W-1:0] k1_t;
  logic tr_in_v, tr_v, tr_busy;
  logic [L*X_W-1:0] tr_in;
  logic [TTAG_W-1:0] tr_in_tag, tr_tag;
  logic [TS_W-1:0] tr_sum;

  always_comb begin : p_tree_in
    tr_in_v = arr_hm || k1_v;
    if (arr_hm) begin
      tr_in = xb_rd_data;
      tr_in_tag = {tg_ad2, LW'(tg_i2), tg_f2[2:0]};
    end else begin
      for (int l = 0; l < L; l++) begin
        tr_in[l*X_W+:X_W] = X_W'(k1_b[l]);
      end
      tr_in_tag = {AD_W'(k1_t), LW'(0), 1'b0, k1_last, k1_first};
    end
  end

  spvit_ov_selector_tree #(
      .N_IN(L),
      .IN_W(X_W),
      .TAG_W(TTAG_W)
  ) u_tree (
      .clk(clk),
      .rst_n(rst_n),
      .in_v(tr_in_v),
      .in_data(tr_in),
      .in_tag(tr_in_tag),
      .out_v(tr_v),
      .out_sum(tr_sum),
      .out_tag(tr_tag),
      .busy(tr_busy)
  );

  // HEAD_MEAN: sum a head's words
  logic [S_W-1:0] hsum;
  logic ha_v, ha_wr;
  logic [LW-1:0] ha_lane;
  logic [AD_W-1:0] ha_ad;
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      ha_v <= 1'b0;
    end else begin
      ha_v <= tr_v && tr_tag[1] && (r_op == OP_HM);
    end
  end
  always_ff @(posedge clk) begin
    if (tr_v) begin
      hsum <= tr_tag[0] ? S_W'($signed(tr_sum)) : hsum + S_W'($signed(tr_sum));
      ha_wr <= tr_tag[2];
      ha_lane <= tr_tag[3+:LW];
      ha_ad <= tr_tag[3+LW+:AD_W];
    end
  end

  // ==============================================================================================
  // SELECT score: z = sum w*d, A = sum w*sigma, W = sum w, S = sum sigma, per token
  // ==============================================================================================
  logic [L-1:0][7:0] hw_word;
  logic s1_v, s2_v, s3_v, s4_v, s5_v;
  logic s1_first, s2_first, s3_first, s4_first;
  logic s1_last, s2_last, s3_last, s4_last;
  logic [TI_W-1:0] s1_t, s2_t, s3_t, s4_t, s5_t;
  logic [LW-1:0] s1_lane;
  logic [7:0] s1_d, s2_d, s3_d, s2_w, s3_w, s4_w, s2_idx, s3_sig, s4_sig;
  logic [3:0] s1_lo;
  logic [15:0][7:0] s2_cand;         // the table entries whose index has s1's low nibble
  logic [16:0] s4_wd, s4p_wd;
  logic [15:0] s4_ws, s4p_ws;
  logic s4p_v, s4p_first, s4p_last;
  logic [TI_W-1:0] s4p_t;
  logic [7:0] s4p_w, s4p_sig;
  logic [Z_W-1:0] z5;
  logic [KA_W-1:0] a5;
  logic [WS_W-1:0] w5, g5;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      s1_v <= 1'b0;
      s2_v <= 1'b0;
      s3_v <= 1'b0;
      s4_v <= 1'b0;
      s4p_v <= 1'b0;
      s5_v <= 1'b0;
    end else begin
      s1_v <= arr_sc && tg_f2[1];
      s2_v <= s1_v;
      s3_v <= s2_v;
      s4_v <= s3_v;
      s4p_v <= s4_v;
      s5_v <= s4p_v && s4p_last;
    end
  end

  always_ff @(posedge clk) begin
    if (arr_sc && tg_f2[0]) begin
      hw_word <= bd8;
    end
    s1_d <= ad8[0];
    s1_lane <= tg_ad2[LW-1:0];
    s1_first <= tg_f2[2];
    s1_last <= tg_f2[3];
    s1_t <= TI_W'(tg_i2);
    s2_w <= hw_word[s1_lane];
    s2_d <= s1_d;
    s2_idx <= s1_d + d_doff;
    for (int g = 0; g < 16; g++) begin
      s2_cand[g] <= tab[{4'(g), s1_lo}];
    end
    s2_first <= s1_first;
    s2_last <= s1_last;
    s2_t <= s1_t;
    s3_sig <= s2_cand[s2_idx[7:4]];  // table read in two halves of 4 index bits (LUT depth)
    s3_w <= s2_w;
    s3_d <= s2_d;
    s3_first <= s2_first;
    s3_last <= s2_last;
    s3_t <= s2_t;
    s4_wd <= 17'($signed({1'b0, s3_w}) * $signed(s3_d));
    s4_ws <= s3_w * s3_sig;
    s4_w <= s3_w;
    s4_sig <= s3_sig;
    s4_first <= s3_first;
    s4_last <= s3_last;
    s4_t <= s3_t;
    s4p_wd <= s4_wd;                   // s3 (input), s4 (M) and s4p (P): DSP registers
    s4p_ws <= s4_ws;
    s4p_w <= s4_w;
    s4p_sig <= s4_sig;
    s4p_first <= s4_first;
    s4p_last <= s4_last;
    s4p_t <= s4_t;
    if (s4p_v) begin
      z5 <= s4p_first ? Z_W'($signed(s4p_wd)) : z5 + Z_W'($signed(s4p_wd));
      a5 <= s4p_first ? KA_W'(s4p_ws) : a5 + KA_W'(s4p_ws);
      w5 <= s4p_first ? WS_W'(s4p_w) : w5 + WS_W'(s4p_w);
      g5 <= s4p_first ? WS_W'(s4p_sig) : g5 + WS_W'(s4p_sig);
      s5_t <= s4p_t;
    end
  end

  assign s1_lo = s1_d[3:0] + d_doff[3:0];

  // scores for the rank phase: one copy a lane (word j = tokens jL..jL+L-1), one by token
  logic keep_thr;
  logic [ZI_W-1:0] zr_idx;
  logic [L-1:0][Z_W-1:0] zrow;
  logic [Z_W-1:0] zlist[N_MAX];
  assign keep_thr = ($signed(z5) >= $signed(r_tau));

  for (genvar l = 0; l < L; l++) begin : g_z
    logic [Z_W-1:0] zm[ZD];
    always_ff @(posedge clk) begin
      if (s5_v && s5_t[LW-1:0] == LW'(l)) begin
        zm[ZI_W'(s5_t >> LW)] <= z5;
      end
    end
    assign zrow[l] = zm[zr_idx];
  end

  always_ff @(posedge clk) begin
    if (s5_v) begin
      zlist[s5_t] <= z5;
    end
  end

  // ==============================================================================================
  // SELECT rank (top-k): token t is kept iff fewer than k tokens rank before it
  // ==============================================================================================
  logic k0_v, k0_first, k0_last;
  logic [TI_W-1:0] k0_t;
  logic [Z_W-1:0] k0_zt;
  logic [L-1:0][Z_W-1:0] k0_zw;
  logic [L-1:0] k0_lt, k0_live;
  logic [ZI_W-1:0] t_hi;
  logic [LW-1:0] t_lo;
  assign zr_idx = ZI_W'(c_w);
  assign t_hi = ZI_W'(c_t >> LW);
  assign t_lo = c_t[LW-1:0];

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      k0_v <= 1'b0;
      k1_v <= 1'b0;
    end else begin
      k0_v <= (ph[P_RANK]);
      k1_v <= k0_v;
    end
  end

  always_ff @(posedge clk) begin
    k0_zt <= zlist[TI_W'(c_t)];
    k0_zw <= zrow;
    for (int l = 0; l < L; l++) begin
      k0_lt[l] <= (zr_idx < t_hi) || (zr_idx == t_hi && LW'(l) < t_lo);
      k0_live[l] <= ({1'b0, zr_idx} < d_nhi) || ({1'b0, zr_idx} == d_nhi && LW'(l) < d_nlo);
    end
    k0_first <= (c_w == '0);
    k0_last <= eq_w;
    k0_t <= TI_W'(c_t);
    for (int l = 0; l < L; l++) begin
      k1_b[l] <= k0_live[l] && (($signed(k0_zw[l]) > $signed(k0_zt)) || (k0_zw[l] == k0_zt && k0_lt[l]));
    end
    k1_first <= k0_first;
    k1_last <= k0_last;
    k1_t <= k0_t;
  end

  // count, then decide
  logic ka_v;
  logic [CNT_W-1:0] cnt;
  logic ka_keep;
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      ka_v <= 1'b0;
    end else begin
      ka_v <= tr_v && tr_tag[1] && (r_op == OP_SEL);
    end
  end
  always_ff @(posedge clk) begin
    if (tr_v) begin
      cnt <= tr_tag[0] ? CNT_W'(tr_sum) : cnt + CNT_W'(tr_sum);
      ka_t <= TI_W'(tr_tag[3+LW+:AD_W]);
    end
  end
  assign ka_keep = (cnt < CNT_W'(r_k));

  // ==============================================================================================
  // multiply-accumulate: TOKEN_MEAN sums, package-token sums (acc[word] += q * x)
  // ==============================================================================================
  logic m1_v, m2_v, m3_v, m1_first, m2_first, m3_first;
  logic [DI_W-1:0] m1_i, m2_i, m3_i;
  logic [L-1:0][X_W-1:0] m1_x;
  logic [7:0] m1_q;
  logic [L-1:0][PR_W-1:0] m2_p, m3_p;
  logic [L-1:0][A_W-1:0] acc_mem[DPL_MAX];
  logic [L-1:0][A_W-1:0] acc_rd, acc_new;
  logic [DI_W-1:0] acc_ra;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      m1_v <= 1'b0;
      m2_v <= 1'b0;
      m3_v <= 1'b0;
    end else begin
      m1_v <= arr_tm || (arr_ps && tg_f2[1]);
      m2_v <= m1_v;
      m3_v <= m2_v;
    end
  end

  always_ff @(posedge clk) begin
    for (int l = 0; l < L; l++) begin
      if (arr_tm) begin
        if (d_full) begin
          m1_x[l] <= X_W'($signed(ad8[l]));
        end else begin
          m1_x[l] <= (l < HL) ? X_W'($signed(ad8[(l+HL)%L])) : '0;
        end
      end else begin
        m1_x[l] <= xbd[l];
      end
    end
    m1_q <= arr_tm ? 8'd1 : tg_q2;
    m1_first <= arr_tm ? tg_f2[0] : tg_f2[2];
    m1_i <= DI_W'(tg_i2);
    for (int l = 0; l < L; l++) begin
      m2_p[l] <= PR_W'($signed(m1_x[l]) * $signed({1'b0, m1_q}));
    end
    m2_first <= m1_first;
    m2_i <= m1_i;
    m3_p <= m2_p;
    m3_first <= m2_first;
    m3_i <= m2_i;
  end

  assign acc_ra = (ph[P_DRAIN]) ? DI_W'(c_t) : m3_i;
  assign acc_rd = acc_mem[acc_ra];
  always_comb begin : p_acc
    for (int l = 0; l < L; l++) begin
      acc_new[l] = (m3_first ? '0 : acc_rd[l]) + A_W'($signed(m3_p[l]));
    end
  end
  always_ff @(posedge clk) begin
    if (m3_v) begin
      acc_mem[m3_i] <= acc_new;
    end
  end

  // ==============================================================================================
  // divisions: request register, scale shift, divider, saturation, destination
  // ==============================================================================================
  logic rq_v, rq_sh, rq_wr, rq_keep;
  logic [NUM0_W-1:0] rq_num;
  logic [DEN0_W-1:0] rq_den;
  logic [1:0] rq_dest;
  logic [LW-1:0] rq_lane;
  logic [AD_W-1:0] rq_ad;
  logic dr_v, dr_zero, dr_wr;
  logic [DEN0_W-1:0] dr_den;
  logic [L-1:0][A_W-1:0] dr_word;
  logic [LW-1:0] dr_lane;
  logic [AD_W-1:0] dr_ad;

  // drain: the accumulator word (register), then its lane (request register)
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      dr_v <= 1'b0;
    end else begin
      dr_v <= (ph[P_DRAIN]);
    end
  end
  always_ff @(posedge clk) begin
    dr_word <= acc_rd;
    dr_lane <= c_w[LW-1:0];
    dr_wr <= eq_w;
    dr_ad <= (r_op == OP_TM) ? ptr_o + AD_W'(c_i) : ptr_o + AD_W'(c_t);
  end

  always_ff @(posedge clk) begin
    if (enter && enter_ph[P_DRAIN]) begin
      if (r_op == OP_TM) begin
        dr_zero <= (r_n == '0);
        dr_den <= (r_n == '0) ? DEN0_W'(1) : DEN0_W'(r_n);
      end else begin
        dr_zero <= (npr == '0);
        dr_den <= (psum != '0) ? DEN0_W'(psum) : ((npr == '0) ? DEN0_W'(1) : DEN0_W'(npr));
      end
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      rq_v <= 1'b0;
    end else begin
      rq_v <= ha_v || s5_v || dr_v;
    end
  end

  always_ff @(posedge clk) begin
    if (ha_v) begin
      rq_num <= NUM0_W'($signed(hsum));
      rq_den <= DEN0_W'(r_dh);
      rq_sh <= 1'b1;
      rq_dest <= DS_AM;
      rq_lane <= ha_lane;
      rq_wr <= ha_wr;
      rq_ad <= ha_ad;
      rq_keep <= 1'b0;
    end else if (s5_v) begin
      rq_num <= (w5 != '0) ? NUM0_W'(a5) : NUM0_W'(g5);
      rq_den <= (w5 != '0) ? DEN0_W'(w5) : DEN0_W'(r_h);
      rq_sh <= 1'b1;
      rq_dest <= DS_P;
      rq_lane <= '0;
      rq_wr <= 1'b0;
      rq_ad <= AD_W'(s5_t);
      rq_keep <= r_topk || keep_thr;
    end else begin
      rq_num <= dr_zero ? '0 : NUM0_W'($signed(dr_word[dr_lane]));
      rq_den <= dr_den;
      rq_sh <= (r_op == OP_TM);
      rq_dest <= (r_op == OP_TM) ? DS_AM : DS_XB;
      rq_lane <= dr_lane;
      rq_wr <= dr_wr;
      rq_ad <= dr_ad;
      rq_keep <= 1'b0;
    end
  end

  logic sh_v;
  logic [NUM_W-1:0] sh_num;
  logic [DEN_W-1:0] sh_den;
  logic [DTAG_W-1:0] sh_tag;
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      sh_v <= 1'b0;
    end else begin
      sh_v <= rq_v;
    end
  end
  always_ff @(posedge clk) begin
    sh_num <= rq_sh ? (NUM_W'($signed(rq_num)) << d_ups) : NUM_W'($signed(rq_num));
    sh_den <= rq_sh ? (DEN_W'(rq_den) << d_dns) : DEN_W'(rq_den);
    sh_tag <= {rq_keep, rq_ad, rq_wr, rq_lane, rq_dest};
  end

  logic dv_v, dv_busy;
  logic [DQ_W-1:0] dv_q;
  logic [DTAG_W-1:0] dv_tag;
  spvit_ov_selector_div #(
      .NUM_W(NUM_W),
      .DEN_W(DEN_W),
      .Q_W(Q_W),
      .STEPS(DIV_STEPS),
      .TAG_W(DTAG_W),
      .OUT_W(DQ_W)
  ) u_div (
      .clk(clk),
      .rst_n(rst_n),
      .in_v(sh_v),
      .in_num(sh_num),
      .in_den(sh_den),
      .in_tag(sh_tag),
      .out_v(dv_v),
      .out_q(dv_q),
      .out_tag(dv_tag),
      .busy(dv_busy)
  );

  logic sat_v, sat_wr, sat_keep;
  logic [DQ_W-1:0] sat_q;
  logic [1:0] sat_dest;
  logic [LW-1:0] sat_lane;
  logic [AD_W-1:0] sat_ad;
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      sat_v <= 1'b0;
    end else begin
      sat_v <= dv_v;
    end
  end
  always_ff @(posedge clk) begin
    if (dv_tag[1:0] == DS_XB) begin
      sat_q <= dv_q;                   // package token: a convex combination, never saturates
    end else if ($signed(dv_q) > $signed(d_smax)) begin
      sat_q <= d_smax;
    end else if ($signed(dv_q) < $signed(d_smin)) begin
      sat_q <= d_smin;
    end else begin
      sat_q <= dv_q;
    end
    {sat_keep, sat_ad, sat_wr, sat_lane, sat_dest} <= dv_tag;
  end

  // ---- destinations: keep probability memory, or a word collected lane by lane ---------------
  logic [L-1:0][X_W-1:0] col, col_n;
  logic [L-1:0] col_be, col_be_n;
  logic col_am_wr, col_xb_wr, sat_p;
  assign sat_p = sat_v && (sat_dest == DS_P);
  assign col_am_wr = sat_v && (sat_dest == DS_AM) && sat_wr;
  assign col_xb_wr = sat_v && (sat_dest == DS_XB) && sat_wr;
  always_comb begin : p_col
    col_n = col;
    col_n[sat_lane] = X_W'(sat_q);
    col_be_n = col_be;
    col_be_n[sat_lane] = 1'b1;
  end
  always_ff @(posedge clk) begin
    if (ph[P_PREP]) begin
      col_be <= '0;
    end else if (sat_v && sat_dest != DS_P) begin
      if (sat_wr) begin
        col_be <= '0;
      end else begin
        col <= col_n;
        col_be <= col_be_n;
      end
    end
  end

  always_ff @(posedge clk) begin
    if (sat_p) begin
      pmem[TI_W'(sat_ad)] <= sat_q[7:0];
    end
  end

  // keep decisions and statistics
  always_ff @(posedge clk) begin
    if (s5_v) begin
      keepv[s5_t] <= r_topk || keep_thr;
    end else if (ka_v) begin
      keepv[ka_t] <= ka_keep;
    end
  end

  always_ff @(posedge clk) begin
    if (ph[P_PREP]) begin
      kept <= '0;
      npr <= '0;
      psum <= '0;
    end else if (sat_p && !d_rank) begin
      if (sat_keep) begin
        kept <= kept + 1'b1;
      end else begin
        npr <= npr + 1'b1;
        psum <= psum + PS_W'(sat_q[7:0]);
      end
    end else if (ka_v) begin
      if (ka_keep) begin
        kept <= kept + 1'b1;
      end else begin
        npr <= npr + 1'b1;
        psum <= psum + PS_W'(pm_rd);
      end
    end
  end

  // ==============================================================================================
  // write ports
  // ==============================================================================================
  logic ps_wr;
  assign ps_wr = arr_ps && tg_f2[0];

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      am_wr_en <= 1'b0;
      xb_wr_en <= 1'b0;
    end else begin
      am_wr_en <= cat_wr || col_am_wr;
      xb_wr_en <= ps_wr || col_xb_wr;
    end
  end

  always_ff @(posedge clk) begin
    if (cat_wr) begin
      am_wr_addr <= AM_AW'(tg_ad2);
      am_wr_be <= '1;
      am_wr_data <= cat_data;
    end else begin
      am_wr_addr <= AM_AW'(sat_ad);
      am_wr_be <= col_be_n;
      for (int l = 0; l < L; l++) begin
        am_wr_data[l*8+:8] <= col_n[l][7:0];
      end
    end
    if (ps_wr) begin
      xb_wr_addr <= wp;
      xb_wr_data <= xb_rd_data;
      xb_wr_be <= '1;
    end else begin
      xb_wr_addr <= XB_AW'(sat_ad);
      xb_wr_data <= col_n;
      xb_wr_be <= col_be_n;
    end
  end

  always_ff @(posedge clk) begin
    if (ph[P_PREP]) begin
      wp <= XB_AW'(r_dpl);
    end else if (ps_wr) begin
      wp <= wp + 1'b1;
    end
  end

  // ==============================================================================================
  // every pipeline empty
  // ==============================================================================================
  assign pipe_empty = !(|tg_v) && !tr_busy && !ha_v && !s1_v && !s2_v && !s3_v && !s4_v && !s4p_v && !s5_v
                      && !k0_v && !k1_v && !ka_v && !m1_v && !m2_v && !m3_v && !dr_v && !rq_v && !sh_v
                      && !dv_busy && !sat_v && !am_wr_en && !xb_wr_en;

  // results above X_W bits: none (saturated to 8 bits, or a package token within the X_W range);
  // the read tag's index is narrower than its container for every op
  logic unused_ok;
  assign unused_ok = ^{sat_q[DQ_W-1:X_W], tg_i2, s2_idx[3:0]};
endmodule
