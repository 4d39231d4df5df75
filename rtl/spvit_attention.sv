// spvit_attention: multi-head attention core of the dataflow design (rtl/DATAFLOW.md "Token
// streams"): the q, k, v token streams of one frame in, the context token stream out
// (spvit_fpga/ir/reference.py _attention without the four linears).
//
// For a frame of T tokens (1 <= T <= T_MAX, T known from tlast) and heads h = 0..H-1, each the
// channel slice [h*DH, (h+1)*DH):
//   s[h][i][j]   = sat_SCORE( RNE( sum_d q[i][h*DH+d] * k[j][h*DH+d] / 2^SCORE_SHIFT ) )
//                                                   (intops.int_attention_scores)
//   p[h][i][:]   = int_softmax(s[h][i][0..T-1])     (spvit_softmax, unsigned P_W bits, frac P_W)
//   ctx[i][h*DH+d] = sat_CTX( RNE( sum_j p[h][i][j] * v[j][h*DH+d] / 2^CTX_SHIFT ) )
//                                                   (intops.int_attention_context)
// SCORE_SHIFT / CTX_SHIFT <= 0 are exact left shifts (spvit_requant).
//
// Streams (one token a beat, lane c = channel c at tdata[c*W +: W], two's complement):
//   s_axis_q/k/v: the frame's q, k and v tokens, each stream accepted on its own (no lock-step
//     between them; the three come from three GEMM units fed by one fork), tlast on the frame's
//     last token; q's tuser (token kind) is kept per token, k's and v's tuser are ignored.
//   m_axis: context token i (C lanes of CTX_W bits) with the tuser of q token i, tlast on the
//     frame's last token.
// Preconditions: the q, k and v frames have the same length T (the length is taken from q),
// 1 <= T <= T_MAX; C == H*DH; SIMD divides DH; QP >= 1 (any, also > T_MAX); FRAMES is 1 or 2;
// SCORE_ACC_W >= intops.accumulator_bits(Q_W, K_W, DH) and CTX_ACC_W >= intops.accumulator_bits(
// P_W, V_W, T_MAX, in_signed=False) (no saturation inside the exact sums); EXP_* as for
// spvit_softmax (intops.exp_table of the score format);
// AXI-Stream sources (a raised tvalid stays, with tdata stable, until the transfer: a token beat
// is read over NS = C/SIMD cycles before tready rises).
//
// Hardware: three frame buffers of FRAMES*T_MAX*NS rows x SIMD*W bits (NS = C/SIMD; synchronous
// read with enable: block or distributed RAM), each written one slice a cycle from the held token
// beat (tready on its last slice): k and v at row t*NS + g = SIMD slice g of token t; q in QP
// banks of FRAMES*G_MAX*NS rows (G_MAX = ceil(T_MAX/QP)), token t in bank t % QP at row
// (t / QP)*NS + g, so the QP query rows of a row group are read in one cycle; a kind buffer (QP
// banks of FRAMES*G_MAX x 2).  With FRAMES = 2 each buffer holds two frames (ping-pong halves at
// row offsets 0 and T_MAX*NS, resp. G_MAX*NS and G_MAX): one half is loaded while the frame in
// the other half is computed.
// The query rows are processed in row groups of QP consecutive tokens (G = ceil(T/QP) groups;
// the last one has L = T - (G-1)*QP valid rows; its other lanes compute on stale q rows and their
// results are dropped).  Two engines run concurrently once a frame is loaded, connected through
// a score FIFO and QP softmax kernels that run in lock-step (joint valid/ready):
//   score engine: for group, for h, for j: QP x SIMD-lane MAC of q[i] . k[j] over the head slice
//     for the QP rows i of the group (one k read serves all of them), NB = DH/SIMD beats a score
//     (one beat a cycle), QP spvit_requant, into a T_MAX-deep score FIFO (distributed RAM,
//     {tlast = (j == T-1), QP scores}) that feeds the QP spvit_softmax rows; the FIFO lets the
//     next rows' scores be computed while the softmax sums and divides;
//   context engine: takes the QP probabilities p[h][i][j] of the softmax outputs, reads v[j]
//     (shared) and does NB beats of QP x SIMD-lane MACs into QP x DH rotating accumulators (per
//     row NB groups of SIMD, CTX_ACC_W bits); the beats of j = T-1 go on through QP x SIMD
//     spvit_requant units and are shifted into QP output registers, head by head; after the last
//     head the group's L tokens are emitted one a beat (token order; a shift waits while the
//     previous group has not been taken completely).
// Frame buffering: a frame is loaded into a free buffer half (FRAMES = 1: the only one), its q, k
// and v streams each accepted until their tlast; one cycle after the last of the three the half
// is full and the next frame's load may start in the other half (if that one is free).  A full
// half is computed (frames in order, one at a time) as soon as the previous frame's last context
// token has been computed (it may still wait in the output register), which also frees that
// previous frame's half.  So with FRAMES = 1 the unit alternates load and compute; with FRAMES = 2
// it receives frame i+1 while it computes frame i.
//
// Cycles per frame of T tokens without stalls, from its first input beat offered to its last
// output beat taken (checked exactly by rtl_sim/tb_attention.py), with NB = DH/SIMD,
// D = ceil((P_W+1)/DIV_STEPS) + 1 (the softmax divider's interval), G = ceil(T/QP),
// L = T - (G-1)*QP and R = max(D*T + max(0, 3-D), T + 3) (the spvit_softmax row interval of
// rows of T back to back), when NB <= D:
//   NS*T + Q + L,   Q = (NB + 1 + D)*T + (H*G - 1)*R + NB + 11   (compute)
// i.e. load (NS*T + 2), the first score row at one score per NB cycles, its softmax latency
// ((2+D)*T + 7), then the other H*G - 1 softmax rows one every R cycles (QP spvit_softmax in
// lock-step; each pipelines receive / sum / divide over consecutive rows, so the divide pass
// paces: the next rows' scores and each probability's NB context beats are hidden under it),
// and the last group's L tokens.  QP = 1 works on one query row at a time.
// Frames back to back: FRAMES = 1: NS*T + Q cycles each (the next load starts as the last
// group's first token leaves), plus the last frame's L.  FRAMES = 2 at full rate: load i+1
// (NS*T_{i+1} cycles) overlaps compute i; exactly, with frame i's load allowed from cycle a_i
// (a_0 = 0, a_i = max(r_{i-1} + 1, f_{i-2})), done r_i = a_i + NS*T_i, compute start
// c_i = max(r_i, f_{i-1}), end f_i = c_i + Q_i: total f_last + L_last.  Steady state for frames of
// equal T: one frame every max(receive, Q) cycles, receive = NS*T + 1 at full rate or T*P when
// the q/k/v tokens come one every P >= NS + 1 cycles (a source that waits while held off);
// FRAMES = 1: NS*T + Q at full rate, (T-1)*P + NS + Q paced.  The same model per token (a token
// is written from when it is offered and its half is free, over NS cycles) is checked exactly
// for such paced inputs too (rtl_sim/tb_attention.py expected_cycles).
// When NB > D the context MACs pace the divisions instead: Q is about H*G*NB*T cycles.
// E.g. C=64, H=2, DH=32, SIMD=8, P_W=8, DIV_STEPS=3 (NS = 8, NB = D = 4), T=66: 35 722 (QP=1),
// 18 299 (QP=2), 9 851 (QP=4); SIMD=32, DIV_STEPS=9 (NS = 2, NB = 1, D = 2), T=66: 17 832
// (QP=1), 9 055 (QP=2), 4 799 (QP=4).
// Resources grow with QP: QP*SIMD q.k multipliers and QP*SIMD p.v multipliers (2*QP*SIMD MACs),
// QP spvit_softmax (each: three row buffers, two exp ROMs, one divider), QP*(1+DH) accumulators,
// QP score FIFO columns and QP output registers (C*CTX_W bits each); the frame buffers do not.
// FRAMES = 2 doubles the depth of the q, k, v and kind buffers (BRAM18 as 36 x 512 tiles:
// ceil(SIMD*W/36) * ceil(FRAMES*T_MAX*NS/512) for k and for v, QP * ceil(SIMD*Q_W/36) *
// ceil(FRAMES*G_MAX*NS/512) for q; e.g. C=64, T_MAX=66, SIMD=16, QP=2, 8-bit q/k/v: 16 -> 24) and
// adds the buffer-half offsets to the addresses; nothing else.
module spvit_attention #(
    parameter int C           = 64,                 // channels (= H * DH)
    parameter int H           = 2,                  // heads
    parameter int DH          = 32,                 // channels per head
    parameter int T_MAX       = 66,                 // longest frame (tokens)
    parameter int Q_W         = 8,                  // q lane width (signed)
    parameter int K_W         = 8,                  // k lane width (signed)
    parameter int V_W         = 8,                  // v lane width (signed)
    parameter int SIMD        = 8,                  // MAC lanes (divides DH)
    parameter int SCORE_ACC_W = 21,                 // q.k accumulator (>= accumulator_bits)
    parameter int SCORE_SHIFT = 9,                  // f_q + f_k - f_score
    parameter int SCORE_W     = 8,                  // score width (signed)
    parameter int P_W         = 8,                  // probability bits (unsigned, frac P_W)
    parameter int EXP_W       = 16,                 // exp-table entry width
    parameter int EXP_DEPTH   = (SCORE_W < 10) ? (1 << SCORE_W) : 1024,  // exp-table entries
    parameter     EXP_FILE    = "exp.hex",          // $readmemh of intops.exp_table(score_fmt)
    parameter int DIV_STEPS   = 3,                  // softmax divider quotient bits per cycle
    parameter int CTX_ACC_W   = 23,                 // p.v accumulator (>= accumulator_bits)
    parameter int CTX_SHIFT   = 8,                  // P_W + f_v - f_ctx
    parameter int CTX_W       = 8,                  // context width (signed)
    parameter int QP          = 1,                  // query rows in parallel (row group size, >= 1)
    parameter int FRAMES      = 1                   // frame buffers: 1, or 2 (ping-pong)
) (
    input  logic               clk,
    input  logic               rst_n,
    // q tokens
    input  logic [C*Q_W-1:0]   s_axis_q_tdata,
    input  logic               s_axis_q_tvalid,
    output logic               s_axis_q_tready,
    input  logic               s_axis_q_tlast,
    input  logic [1:0]         s_axis_q_tuser,
    // k tokens
    input  logic [C*K_W-1:0]   s_axis_k_tdata,
    input  logic               s_axis_k_tvalid,
    output logic               s_axis_k_tready,
    input  logic               s_axis_k_tlast,
    input  logic [1:0]         s_axis_k_tuser,
    // v tokens
    input  logic [C*V_W-1:0]   s_axis_v_tdata,
    input  logic               s_axis_v_tvalid,
    output logic               s_axis_v_tready,
    input  logic               s_axis_v_tlast,
    input  logic [1:0]         s_axis_v_tuser,
    // context tokens
    output logic [C*CTX_W-1:0] m_axis_tdata,
    output logic               m_axis_tvalid,
    input  logic               m_axis_tready,
    output logic               m_axis_tlast,
    output logic [1:0]         m_axis_tuser
);
  localparam int NB = DH / SIMD;                          // MAC beats per head slice
  localparam int NS = C / SIMD;                           // SIMD slices per token
  localparam int G_MAX = (T_MAX + QP - 1) / QP;           // row groups of the longest frame
  localparam int TI_W = (T_MAX > 1) ? $clog2(T_MAX) : 1;  // token index
  localparam int TN_W = $clog2(T_MAX + 1);               // token count
  localparam int GI_W = (G_MAX > 1) ? $clog2(G_MAX) : 1;  // row group index
  localparam int L_W = (QP > 1) ? $clog2(QP) : 1;         // lane (row in the group) index
  localparam int H_W = (H > 1) ? $clog2(H) : 1;           // head index
  localparam int SL_W = (NS > 1) ? $clog2(NS) : 1;        // slice index
  localparam int KV_ROWS = T_MAX * NS;                    // k / v rows of one frame buffer
  localparam int Q_ROWS = G_MAX * NS;                     // q bank rows of one frame buffer
  localparam int AW = (FRAMES * KV_ROWS > 1) ? $clog2(FRAMES * KV_ROWS) : 1;  // k/v address
  localparam int QAW = (FRAMES * Q_ROWS > 1) ? $clog2(FRAMES * Q_ROWS) : 1;  // q bank address
  localparam int UAW = (FRAMES * G_MAX > 1) ? $clog2(FRAMES * G_MAX) : 1;  // kind bank address
  localparam int B_W = (NB > 1) ? $clog2(NB) : 1;         // beat index
  localparam int QK_W = Q_W + K_W;                        // q*k product (signed)
  localparam int PV_W = P_W + 1 + V_W;                    // p*v product (signed)
  // accumulators (at least a product wide: accumulator_bits can be one less for a fan-in of 1)
  localparam int SA_W = (SCORE_ACC_W > QK_W) ? SCORE_ACC_W : QK_W;
  localparam int CA_W = (CTX_ACC_W > PV_W) ? CTX_ACC_W : PV_W;
  localparam logic [B_W-1:0] B_LAST = B_W'(NB - 1);
  localparam logic [H_W-1:0] H_LAST = H_W'(H - 1);
  localparam logic [L_W-1:0] L_LAST = L_W'(QP - 1);
  localparam logic [SL_W-1:0] SL_NB = SL_W'(NB);
  localparam logic [SL_W-1:0] SL_LAST = SL_W'(NS - 1);
  localparam logic [AW-1:0] A_NS = AW'(NS);
  localparam logic [QAW-1:0] QA_NS = QAW'(NS);

  // ---- frame buffer ping-pong (FRAMES = 2; with FRAMES = 1 wbuf = rbuf = 0) -------------------------
  // full[b]: buffer b holds a loaded frame whose last context token has not been computed yet.
  // wbuf: the buffer being loaded (accepted into while !full[wbuf]); rbuf: the buffer of the
  // oldest loaded frame, computed while run.  Frames are loaded and computed in order.
  logic [1:0] full;
  logic wbuf, rbuf, run;
  logic loading, in_complete, start, frame_end;
  logic [AW-1:0] kv_wbase, kv_rbase;                      // first row of the buffer
  logic [QAW-1:0] q_wbase, q_rbase;
  logic [UAW-1:0] u_wbase, u_rbase;
  assign loading = !full[wbuf];
  assign kv_wbase = wbuf ? AW'(KV_ROWS) : '0;
  assign kv_rbase = rbuf ? AW'(KV_ROWS) : '0;
  assign q_wbase = wbuf ? QAW'(Q_ROWS) : '0;
  assign q_rbase = rbuf ? QAW'(Q_ROWS) : '0;
  assign u_wbase = wbuf ? UAW'(G_MAX) : '0;
  assign u_rbase = rbuf ? UAW'(G_MAX) : '0;

  // ---- frame buffers ----------------------------------------------------------------------------
  // k / v: row t*NS + g holds SIMD slice g of token t.  q: QP banks, token t in bank
  // t % QP at row (t / QP)*NS + g, so the QP rows of a group are read in the same cycle.
  // A token beat is written one slice a cycle (its tdata is stable while tvalid is high and
  // tready low), tready on the last slice.
  logic [SIMD*K_W-1:0] k_mem[FRAMES*KV_ROWS];
  logic [SIMD*V_W-1:0] v_mem[FRAMES*KV_ROWS];
  logic [AW-1:0] k_wa, v_wa;                              // k / v write addresses
  logic [QAW-1:0] q_gwa;                                  // q bank row of slice 0 of the token
  logic [SL_W-1:0] q_ws, k_ws, v_ws;                      // slice of the current token
  logic [TI_W-1:0] q_tok;                                 // q token index
  logic [GI_W-1:0] q_grp;                                 // its row group
  logic [L_W-1:0] q_lane;                                 // its lane (bank)
  logic q_in_done, k_in_done, v_in_done;
  logic q_wr, k_wr, v_wr;                                 // a slice is written this cycle
  logic q_fire, k_fire, v_fire;
  logic [TI_W-1:0] last_tok_b[2];                        // per buffer: T - 1 of its frame
  logic [GI_W-1:0] last_grp_b[2];                         // (T - 1) / QP
  logic [L_W-1:0] last_lane_b[2];                         // (T - 1) % QP
  logic [TI_W-1:0] last_tok;                              // the same of the computed frame
  logic [GI_W-1:0] last_grp;
  logic [L_W-1:0] last_lane;
  assign last_tok = last_tok_b[rbuf];
  assign last_grp = last_grp_b[rbuf];
  assign last_lane = last_lane_b[rbuf];

  logic [SIMD*Q_W-1:0] q_in[NS];
  logic [SIMD*K_W-1:0] k_in[NS];
  logic [SIMD*V_W-1:0] v_in[NS];
  for (genvar g = 0; g < NS; g++) begin : g_in_slice
    assign q_in[g] = s_axis_q_tdata[g*SIMD*Q_W+:SIMD*Q_W];
    assign k_in[g] = s_axis_k_tdata[g*SIMD*K_W+:SIMD*K_W];
    assign v_in[g] = s_axis_v_tdata[g*SIMD*V_W+:SIMD*V_W];
  end

  assign q_wr = loading && !q_in_done && s_axis_q_tvalid;
  assign k_wr = loading && !k_in_done && s_axis_k_tvalid;
  assign v_wr = loading && !v_in_done && s_axis_v_tvalid;
  assign s_axis_q_tready = loading && !q_in_done && (q_ws == SL_LAST);
  assign s_axis_k_tready = loading && !k_in_done && (k_ws == SL_LAST);
  assign s_axis_v_tready = loading && !v_in_done && (v_ws == SL_LAST);
  // the loaded frame is complete (its flags are set only while loading); a frame starts when
  // nothing is computed and buffer rbuf is full or completes now (then rbuf == wbuf)
  assign in_complete = q_in_done && k_in_done && v_in_done;
  assign start = !run && (full[rbuf] || in_complete);
  assign q_fire = s_axis_q_tvalid && s_axis_q_tready;
  assign k_fire = s_axis_k_tvalid && s_axis_k_tready;
  assign v_fire = s_axis_v_tvalid && s_axis_v_tready;

  always_ff @(posedge clk) begin
    if (k_wr) begin
      k_mem[kv_wbase+k_wa] <= k_in[k_ws];
    end
    if (v_wr) begin
      v_mem[kv_wbase+v_wa] <= v_in[v_ws];
    end
    if (q_fire && s_axis_q_tlast) begin
      last_tok_b[wbuf] <= q_tok;
      last_grp_b[wbuf] <= q_grp;
      last_lane_b[wbuf] <= q_lane;
    end
  end

  logic unused_tuser;
  assign unused_tuser = &{1'b0, s_axis_k_tuser, s_axis_v_tuser};

  // ---- score engine: q[i] . k[j] per head for the QP rows i of a group -> QP softmax rows -------
  logic s_busy;                                           // beats left to issue in this frame
  logic [GI_W-1:0] sg;
  logic [TI_W-1:0] sj;
  logic [H_W-1:0] sh;
  logic [SL_W-1:0] sbase;                                 // sh * NB
  logic [B_W-1:0] sb;
  logic [QAW-1:0] sg_row;                                 // sg * NS
  logic [AW-1:0] sj_row;                                  // sj * NS
  logic s_issue, s_adv, s_consume;

  logic rd_valid, rd_first, rd_last, rd_tlast;
  logic [SIMD*K_W-1:0] k_x;
  logic [SL_W-1:0] s_off;
  assign s_off = sbase + SL_W'(sb);

  logic sf_full, sf_push;

  assign s_consume = rd_valid && (!rd_last || !sf_full);
  assign s_adv = !rd_valid || s_consume;
  assign s_issue = s_busy && s_adv;

  always_ff @(posedge clk) begin
    if (s_adv) begin
      k_x <= k_mem[kv_rbase+sj_row+AW'(s_off)];
      rd_first <= (sb == '0);
      rd_last <= (sb == B_LAST);
      rd_tlast <= (sj == last_tok);
    end
  end

  // ---- score FIFO (T_MAX deep, QP lanes): the next rows are computed while the softmax divides --
  logic sf_last_mem[T_MAX];                               // tlast (j == T-1)
  logic [TI_W-1:0] sf_wr, sf_rd;
  logic [TN_W-1:0] sf_cnt;
  logic sf_valid, sf_pop, sm_in_all;

  assign sf_push = s_consume && rd_last;
  assign sf_full = (sf_cnt == TN_W'(T_MAX));
  assign sf_valid = (sf_cnt != '0);
  assign sf_pop = sf_valid && sm_in_all;

  always_ff @(posedge clk) begin
    if (sf_push) begin
      sf_last_mem[sf_wr] <= rd_tlast;
    end
  end

  // ---- per lane: q bank, q.k MAC, requant, score FIFO, softmax ----------------------------------
  // The QP softmax instances get their scores in the same cycles and give their probabilities in
  // the same cycles (joint valid/ready), so they run in lock-step.
  logic [QP-1:0] sm_in_ready, p_valid_l;
  logic [P_W-1:0] p_data[QP];
  logic [1:0] u_rd[QP];                                   // kinds of the context engine's group
  logic p_valid, p_ready, p_take;
  logic [GI_W-1:0] pg;                                    // context engine's row group

  assign sm_in_all = &sm_in_ready;
  assign p_valid = &p_valid_l;
  assign p_take = p_valid && p_ready;

  for (genvar r = 0; r < QP; r++) begin : g_lane
    logic [SIMD*Q_W-1:0] q_bank[FRAMES*Q_ROWS];
    logic [1:0] u_bank[FRAMES*G_MAX];
    logic [SIMD*Q_W-1:0] q_x;
    logic signed [QK_W-1:0] qk_prod[SIMD];
    logic signed [SA_W-1:0] s_acc, s_sum;
    logic [SCORE_W-1:0] sc_req;
    logic [SCORE_W-1:0] sf_mem[T_MAX];
    logic p_last;

    always_ff @(posedge clk) begin
      if (q_wr && q_lane == L_W'(r)) begin
        q_bank[q_wbase+q_gwa+QAW'(q_ws)] <= q_in[q_ws];
      end
      if (q_fire && q_lane == L_W'(r)) begin
        u_bank[u_wbase+UAW'(q_grp)] <= s_axis_q_tuser;
      end
      if (s_adv) begin
        q_x <= q_bank[q_rbase+sg_row+QAW'(s_off)];
      end
    end
    assign u_rd[r] = u_bank[u_rbase+UAW'(pg)];

    for (genvar s = 0; s < SIMD; s++) begin : g_qk_mul
      assign qk_prod[s] = QK_W'($signed(q_x[s*Q_W+:Q_W])) * QK_W'($signed(k_x[s*K_W+:K_W]));
    end

    always_comb begin
      s_sum = rd_first ? '0 : s_acc;
      for (int s = 0; s < SIMD; s++) begin
        s_sum = s_sum + SA_W'(qk_prod[s]);
      end
    end

    spvit_requant #(
        .IN_W(SA_W),
        .IN_SIGNED(1'b1),
        .SHIFT(SCORE_SHIFT),
        .OUT_W(SCORE_W),
        .OUT_SIGNED(1'b1)
    ) u_score_rq (
        .x(s_sum),
        .y(sc_req)
    );

    always_ff @(posedge clk) begin
      if (s_consume) begin
        s_acc <= s_sum;
      end
      if (sf_push) begin
        sf_mem[sf_wr] <= sc_req;
      end
    end

    spvit_softmax #(
        .IN_W(SCORE_W),
        .N_MAX(T_MAX),
        .P_W(P_W),
        .EXP_W(EXP_W),
        .EXP_DEPTH(EXP_DEPTH),
        .EXP_FILE(EXP_FILE),
        .DIV_STEPS(DIV_STEPS)
    ) u_softmax (
        .clk(clk),
        .rst_n(rst_n),
        .s_axis_tdata(sf_mem[sf_rd]),
        .s_axis_tvalid(sf_valid && sm_in_all),
        .s_axis_tready(sm_in_ready[r]),
        .s_axis_tlast(sf_last_mem[sf_rd]),
        .m_axis_tdata(p_data[r]),
        .m_axis_tvalid(p_valid_l[r]),
        .m_axis_tready(p_take),
        .m_axis_tlast(p_last)
    );

    logic unused_p_last;
    assign unused_p_last = p_last;                        // rows are counted, not marked
  end

  // ---- context engine: p[i][j] * v[j] per head for the QP rows of a group -> output tokens ------
  logic pv_active;                                        // p_reg holds probabilities to use
  logic [P_W-1:0] p_reg[QP];
  logic [TI_W-1:0] pj;
  logic [H_W-1:0] ph;
  logic [SL_W-1:0] pbase;                                 // ph * NB
  logic [B_W-1:0] pb;
  logic [AW-1:0] pj_row;                                  // pj * NS
  logic pv_issue, pv_issue_last, v_adv, v_consume, out_free;

  logic vr_valid, vr_first, vr_final, vr_tok_end, vr_frame_end;
  logic [P_W-1:0] vr_p[QP];
  logic [1:0] vr_user[QP];
  logic [L_W-1:0] vr_n_last;                              // last valid lane of the group
  logic [SIMD*V_W-1:0] v_x;

  // output: the QP tokens of a group, emitted one a beat (lanes 0..o_last)
  logic [C*CTX_W-1:0] out_tok[QP];
  logic [1:0] o_user[QP];
  logic [L_W-1:0] o_idx, o_last;
  logic o_frame_end, o_done;

  assign o_done = (o_idx == o_last);
  assign out_free = !m_axis_tvalid || (m_axis_tready && o_done);
  assign v_consume = vr_valid && (!vr_final || out_free);
  assign v_adv = !vr_valid || v_consume;
  assign pv_issue = pv_active && v_adv;
  assign pv_issue_last = pv_issue && (pb == B_LAST);
  assign frame_end = v_consume && vr_frame_end;           // the last context beat of the frame
  assign p_ready = !pv_active || pv_issue_last;

  always_ff @(posedge clk) begin
    if (p_take) begin
      p_reg <= p_data;
    end
    if (v_adv) begin
      v_x <= v_mem[kv_rbase+pj_row+AW'(pbase+SL_W'(pb))];
      vr_p <= p_reg;
      vr_first <= (pj == '0);
      vr_final <= (pj == last_tok);
      vr_tok_end <= (pj == last_tok) && (ph == H_LAST) && (pb == B_LAST);
      vr_frame_end <= (pj == last_tok) && (ph == H_LAST) && (pb == B_LAST) && (pg == last_grp);
      vr_user <= u_rd;
      vr_n_last <= (pg == last_grp) ? last_lane : L_LAST;
    end
  end

  // per lane, DH accumulators as NB rotating groups of SIMD: beat b of every j uses group 0 and
  // puts the new sum at the tail, so after NB beats group b is back at position b.
  for (genvar r = 0; r < QP; r++) begin : g_ctx
    logic signed [CA_W-1:0] acc[NB][SIMD];
    logic signed [CA_W-1:0] c_sum[SIMD];
    logic [SIMD*CTX_W-1:0] c_req;
    logic [SIMD*CTX_W-1:0] out_sl[NS];
    for (genvar s = 0; s < SIMD; s++) begin : g_pv
      logic signed [PV_W-1:0] prod;
      assign prod = PV_W'($signed({1'b0, vr_p[r]})) * PV_W'($signed(v_x[s*V_W+:V_W]));
      assign c_sum[s] = (vr_first ? '0 : acc[0][s]) + CA_W'(prod);
      spvit_requant #(
          .IN_W(CA_W),
          .IN_SIGNED(1'b1),
          .SHIFT(CTX_SHIFT),
          .OUT_W(CTX_W),
          .OUT_SIGNED(1'b1)
      ) u_ctx_rq (
          .x(c_sum[s]),
          .y(c_req[s*CTX_W+:CTX_W])
      );
    end

    always_ff @(posedge clk) begin
      if (v_consume) begin
        for (int s = 0; s < SIMD; s++) begin
          for (int b = 0; b < NB - 1; b++) begin
            acc[b][s] <= acc[b+1][s];
          end
          acc[NB-1][s] <= c_sum[s];
        end
      end
      // output register of row r: NS slices, shifted in channel order as the heads finish
      if (v_consume && vr_final) begin
        for (int g = 0; g < NS - 1; g++) begin
          out_sl[g] <= out_sl[g+1];
        end
        out_sl[NS-1] <= c_req;
      end
    end
    for (genvar g = 0; g < NS; g++) begin : g_out
      assign out_tok[r][g*SIMD*CTX_W+:SIMD*CTX_W] = out_sl[g];
    end
  end

  always_ff @(posedge clk) begin
    if (v_consume && vr_tok_end) begin
      o_user <= vr_user;
      o_last <= vr_n_last;
      o_frame_end <= vr_frame_end;
    end
  end
  assign m_axis_tdata = out_tok[o_idx];
  assign m_axis_tuser = o_user[o_idx];
  assign m_axis_tlast = o_frame_end && o_done;

  // ---- control ----------------------------------------------------------------------------------
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      full <= '0;
      wbuf <= 1'b0;
      rbuf <= 1'b0;
      run <= 1'b0;
      q_gwa <= '0;
      k_wa <= '0;
      v_wa <= '0;
      q_ws <= '0;
      k_ws <= '0;
      v_ws <= '0;
      q_tok <= '0;
      q_grp <= '0;
      q_lane <= '0;
      q_in_done <= 1'b0;
      k_in_done <= 1'b0;
      v_in_done <= 1'b0;
      s_busy <= 1'b0;
      sg <= '0;
      sj <= '0;
      sh <= '0;
      sbase <= '0;
      sb <= '0;
      sg_row <= '0;
      sj_row <= '0;
      rd_valid <= 1'b0;
      sf_wr <= '0;
      sf_rd <= '0;
      sf_cnt <= '0;
      pv_active <= 1'b0;
      pg <= '0;
      pj <= '0;
      ph <= '0;
      pbase <= '0;
      pb <= '0;
      pj_row <= '0;
      vr_valid <= 1'b0;
      m_axis_tvalid <= 1'b0;
      o_idx <= '0;
    end else begin
      // load
      if (q_ws != SL_LAST && q_wr) begin
        q_ws <= q_ws + 1'b1;
      end
      if (q_fire) begin
        q_ws <= '0;
        q_tok <= s_axis_q_tlast ? '0 : q_tok + 1'b1;
        q_in_done <= s_axis_q_tlast;
        if (s_axis_q_tlast) begin
          q_lane <= '0;
          q_grp <= '0;
          q_gwa <= '0;
        end else if (q_lane == L_LAST) begin
          q_lane <= '0;
          q_grp <= q_grp + 1'b1;
          q_gwa <= q_gwa + QA_NS;
        end else begin
          q_lane <= q_lane + 1'b1;
        end
      end
      if (k_wr) begin
        k_wa <= (k_fire && s_axis_k_tlast) ? '0 : k_wa + 1'b1;
        k_ws <= (k_ws == SL_LAST) ? '0 : k_ws + 1'b1;
      end
      if (v_wr) begin
        v_wa <= (v_fire && s_axis_v_tlast) ? '0 : v_wa + 1'b1;
        v_ws <= (v_ws == SL_LAST) ? '0 : v_ws + 1'b1;
      end
      if (k_fire) begin
        k_in_done <= s_axis_k_tlast;
      end
      if (v_fire) begin
        v_in_done <= s_axis_v_tlast;
      end
      if (in_complete) begin
        full[wbuf] <= 1'b1;
        wbuf <= (FRAMES > 1) ? !wbuf : 1'b0;
        q_in_done <= 1'b0;
        k_in_done <= 1'b0;
        v_in_done <= 1'b0;
      end
      if (start) begin
        run <= 1'b1;
        s_busy <= 1'b1;
      end
      if (frame_end) begin
        run <= 1'b0;
        full[rbuf] <= 1'b0;
        rbuf <= (FRAMES > 1) ? !rbuf : 1'b0;
      end

      // score engine: group, h, j, beat
      if (s_adv) begin
        rd_valid <= s_issue;
      end
      if (s_issue) begin
        if (sb != B_LAST) begin
          sb <= sb + 1'b1;
        end else begin
          sb <= '0;
          if (sj != last_tok) begin
            sj <= sj + 1'b1;
            sj_row <= sj_row + A_NS;
          end else begin
            sj <= '0;
            sj_row <= '0;
            if (sh != H_LAST) begin
              sh <= sh + 1'b1;
              sbase <= sbase + SL_NB;
            end else begin
              sh <= '0;
              sbase <= '0;
              if (sg != last_grp) begin
                sg <= sg + 1'b1;
                sg_row <= sg_row + QA_NS;
              end else begin
                sg <= '0;
                sg_row <= '0;
                s_busy <= 1'b0;
              end
            end
          end
        end
      end
      if (sf_push) begin
        sf_wr <= (sf_wr == TI_W'(T_MAX - 1)) ? '0 : sf_wr + 1'b1;
      end
      if (sf_pop) begin
        sf_rd <= (sf_rd == TI_W'(T_MAX - 1)) ? '0 : sf_rd + 1'b1;
      end
      sf_cnt <= sf_cnt + TN_W'(sf_push) - TN_W'(sf_pop);

      // context engine: group, h, j, beat
      if (p_take) begin
        pv_active <= 1'b1;
      end else if (pv_issue_last) begin
        pv_active <= 1'b0;
      end
      if (v_adv) begin
        vr_valid <= pv_issue;
      end
      if (pv_issue) begin
        if (pb != B_LAST) begin
          pb <= pb + 1'b1;
        end else begin
          pb <= '0;
          if (pj != last_tok) begin
            pj <= pj + 1'b1;
            pj_row <= pj_row + A_NS;
          end else begin
            pj <= '0;
            pj_row <= '0;
            if (ph != H_LAST) begin
              ph <= ph + 1'b1;
              pbase <= pbase + SL_NB;
            end else begin
              ph <= '0;
              pbase <= '0;
              pg <= (pg != last_grp) ? pg + 1'b1 : '0;
            end
          end
        end
      end

      // output: the group's tokens one a beat
      if (v_consume && vr_tok_end) begin
        m_axis_tvalid <= 1'b1;
        o_idx <= '0;
      end else if (m_axis_tvalid && m_axis_tready) begin
        if (o_done) begin
          m_axis_tvalid <= 1'b0;
        end else begin
          o_idx <= o_idx + 1'b1;
        end
      end
    end
  end
endmodule
