// spvit_attention: multi-head attention core of the dataflow design (rtl/DATAFLOW.md "Token
// streams"): the q, k, v token streams of one frame in, the context token stream out
// (spvit_fpga/reference.py _attention without the four linears).
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
// 1 <= T <= T_MAX; C == H*DH; SIMD divides DH; SCORE_ACC_W >= intops.accumulator_bits(Q_W, K_W,
// DH) and CTX_ACC_W >= intops.accumulator_bits(P_W, V_W, T_MAX, in_signed=False) (no saturation
// inside the exact sums); EXP_* as for spvit_softmax (intops.exp_table of the score format);
// AXI-Stream sources (a raised tvalid stays, with tdata stable, until the transfer: a token beat
// is read over NS = C/SIMD cycles before tready rises).
//
// Hardware: three frame buffers of T_MAX*NS rows x SIMD*W bits (NS = C/SIMD; row t*NS + g =
// SIMD slice g of token t; synchronous read with enable: block or distributed RAM), each written
// one slice a cycle from the held token beat (tready on its last slice), and a kind buffer
// (T_MAX x 2).  Two engines run concurrently once a frame is loaded, connected through a score
// FIFO and the softmax kernel:
//   score engine: for i, for h, for j: SIMD-lane MAC of q[i] . k[j] over the head slice, NB =
//     DH/SIMD beats a score (one beat a cycle), spvit_requant, into a T_MAX-deep score FIFO
//     (distributed RAM, {tlast = (j == T-1), score}) that feeds the spvit_softmax rows; the FIFO
//     lets the next row's scores be computed while the softmax sums and divides;
//   context engine: takes each probability p[h][i][j] of the softmax output, reads v[j] and does
//     NB SIMD-lane MAC beats into DH rotating accumulators (NB groups of SIMD, CTX_ACC_W bits);
//     the beats of j = T-1 go on through SIMD spvit_requant units and are shifted into the
//     output register, head by head (token-major: all heads of token i, then the token is
//     emitted; the shift waits while the previous token has not been taken).
// A frame is accepted only in the LOAD state: from the moment the previous frame's last context
// token has been computed (it may still wait in the output register) until the new frame's q, k
// and v tlast have all arrived; then RUN until its last context token is computed.
//
// Cycles per frame of T tokens without stalls, from its first input beat offered to its last
// output beat taken (checked exactly by rtl_sim/tb_attention.py), with NB = DH/SIMD and
// D = ceil((P_W+1)/DIV_STEPS) + 1 (the softmax divider's interval), when NB <= D:
//   (NS + NB - 1)*T + H*T*((2+D)*T + 5) + NB + 5
// i.e. load (NS*T + 2), the first score row at one score per NB cycles, then H*T softmax rows of
// (2+D)*T + 5 cycles each (spvit_softmax back to back: receive, sum, divide; the next row's scores
// and each probability's NB context beats are hidden under it), and the last token's output.
// Frames back to back take one cycle less each (the next load starts as the last token leaves).
// When NB > D the context MACs pace the divisions instead: about H*T*((2+NB)*T) cycles.
// E.g. C=64, H=2, DH=32, SIMD=8, P_W=8, DIV_STEPS=3 (NS = 8, NB = D = 4): T=66: 53 667,
// T=20: 5 229 (the load is 1 % of it).
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
    parameter int CTX_W       = 8                   // context width (signed)
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
  localparam int TI_W = (T_MAX > 1) ? $clog2(T_MAX) : 1;  // token index
  localparam int TN_W = $clog2(T_MAX + 1);               // token count
  localparam int H_W = (H > 1) ? $clog2(H) : 1;           // head index
  localparam int SL_W = (NS > 1) ? $clog2(NS) : 1;        // slice index
  localparam int AW = (T_MAX * NS > 1) ? $clog2(T_MAX * NS) : 1;  // buffer address (token, slice)
  localparam int B_W = (NB > 1) ? $clog2(NB) : 1;         // beat index
  localparam int QK_W = Q_W + K_W;                        // q*k product (signed)
  localparam int PV_W = P_W + 1 + V_W;                    // p*v product (signed)
  // accumulators (at least a product wide: accumulator_bits can be one less for a fan-in of 1)
  localparam int SA_W = (SCORE_ACC_W > QK_W) ? SCORE_ACC_W : QK_W;
  localparam int CA_W = (CTX_ACC_W > PV_W) ? CTX_ACC_W : PV_W;
  localparam logic [B_W-1:0] B_LAST = B_W'(NB - 1);
  localparam logic [H_W-1:0] H_LAST = H_W'(H - 1);
  localparam logic [SL_W-1:0] SL_NB = SL_W'(NB);
  localparam logic [SL_W-1:0] SL_LAST = SL_W'(NS - 1);
  localparam logic [AW-1:0] A_NS = AW'(NS);

  typedef enum logic {
    LOAD,
    RUN
  } state_t;
  state_t state;

  // ---- frame buffers: row t*NS + g holds SIMD slice g of token t ----------------------------------
  // A token beat is written one slice a cycle (its tdata is stable while tvalid is high and
  // tready low), tready on the last slice.
  logic [SIMD*Q_W-1:0] q_mem[T_MAX*NS];
  logic [SIMD*K_W-1:0] k_mem[T_MAX*NS];
  logic [SIMD*V_W-1:0] v_mem[T_MAX*NS];
  logic [1:0] u_mem[T_MAX];
  logic [AW-1:0] q_wa, k_wa, v_wa;                        // write addresses
  logic [SL_W-1:0] q_ws, k_ws, v_ws;                      // slice of the current token
  logic [TI_W-1:0] q_tok;                                 // q token index
  logic q_in_done, k_in_done, v_in_done;
  logic q_wr, k_wr, v_wr;                                 // a slice is written this cycle
  logic q_fire, k_fire, v_fire;
  logic [TI_W-1:0] last_tok;                              // T - 1 of the loaded frame

  logic [SIMD*Q_W-1:0] q_in[NS];
  logic [SIMD*K_W-1:0] k_in[NS];
  logic [SIMD*V_W-1:0] v_in[NS];
  for (genvar g = 0; g < NS; g++) begin : g_in_slice
    assign q_in[g] = s_axis_q_tdata[g*SIMD*Q_W+:SIMD*Q_W];
    assign k_in[g] = s_axis_k_tdata[g*SIMD*K_W+:SIMD*K_W];
    assign v_in[g] = s_axis_v_tdata[g*SIMD*V_W+:SIMD*V_W];
  end

  assign q_wr = (state == LOAD) && !q_in_done && s_axis_q_tvalid;
  assign k_wr = (state == LOAD) && !k_in_done && s_axis_k_tvalid;
  assign v_wr = (state == LOAD) && !v_in_done && s_axis_v_tvalid;
  assign s_axis_q_tready = (state == LOAD) && !q_in_done && (q_ws == SL_LAST);
  assign s_axis_k_tready = (state == LOAD) && !k_in_done && (k_ws == SL_LAST);
  assign s_axis_v_tready = (state == LOAD) && !v_in_done && (v_ws == SL_LAST);
  assign q_fire = s_axis_q_tvalid && s_axis_q_tready;
  assign k_fire = s_axis_k_tvalid && s_axis_k_tready;
  assign v_fire = s_axis_v_tvalid && s_axis_v_tready;

  always_ff @(posedge clk) begin
    if (q_wr) begin
      q_mem[q_wa] <= q_in[q_ws];
    end
    if (k_wr) begin
      k_mem[k_wa] <= k_in[k_ws];
    end
    if (v_wr) begin
      v_mem[v_wa] <= v_in[v_ws];
    end
    if (q_fire) begin
      u_mem[q_tok] <= s_axis_q_tuser;
    end
    if (q_fire && s_axis_q_tlast) begin
      last_tok <= q_tok;
    end
  end

  logic unused_tuser;
  assign unused_tuser = &{1'b0, s_axis_k_tuser, s_axis_v_tuser};

  // ---- score engine: q[i] . k[j] per head -> softmax ----------------------------------------------
  logic s_busy;                                           // beats left to issue in this frame
  logic [TI_W-1:0] si, sj;
  logic [H_W-1:0] sh;
  logic [SL_W-1:0] sbase;                                 // sh * NB
  logic [B_W-1:0] sb;
  logic [AW-1:0] si_row, sj_row;                          // si * NS, sj * NS
  logic s_issue, s_adv, s_consume;

  logic rd_valid, rd_first, rd_last, rd_tlast;
  logic [SIMD*Q_W-1:0] q_x;
  logic [SIMD*K_W-1:0] k_x;
  logic [SL_W-1:0] s_off;
  assign s_off = sbase + SL_W'(sb);

  logic [SCORE_W-1:0] sc_req;
  logic sf_full, sf_push;

  assign s_consume = rd_valid && (!rd_last || !sf_full);
  assign s_adv = !rd_valid || s_consume;
  assign s_issue = s_busy && s_adv;

  always_ff @(posedge clk) begin
    if (s_adv) begin
      q_x <= q_mem[si_row + AW'(s_off)];
      k_x <= k_mem[sj_row + AW'(s_off)];
      rd_first <= (sb == '0);
      rd_last <= (sb == B_LAST);
      rd_tlast <= (sj == last_tok);
    end
  end

  logic signed [QK_W-1:0] qk_prod[SIMD];
  for (genvar s = 0; s < SIMD; s++) begin : g_qk_mul
    assign qk_prod[s] = QK_W'($signed(q_x[s*Q_W+:Q_W])) * QK_W'($signed(k_x[s*K_W+:K_W]));
  end

  logic signed [SA_W-1:0] s_acc, s_sum;
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
  end

  // ---- score FIFO (T_MAX deep): the next row is computed while the softmax divides -------------
  logic [SCORE_W:0] sf_mem[T_MAX];                        // {tlast, score}
  logic [TI_W-1:0] sf_wr, sf_rd;
  logic [TN_W-1:0] sf_cnt;
  logic sf_valid, sf_pop, sm_in_ready;

  assign sf_push = s_consume && rd_last;
  assign sf_full = (sf_cnt == TN_W'(T_MAX));
  assign sf_valid = (sf_cnt != '0);
  assign sf_pop = sf_valid && sm_in_ready;

  always_ff @(posedge clk) begin
    if (sf_push) begin
      sf_mem[sf_wr] <= {rd_tlast, sc_req};
    end
  end

  // ---- softmax per score row ------------------------------------------------------------------------
  logic [P_W-1:0] p_data;
  logic p_valid, p_ready, p_last;

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
      .s_axis_tdata(sf_mem[sf_rd][SCORE_W-1:0]),
      .s_axis_tvalid(sf_valid),
      .s_axis_tready(sm_in_ready),
      .s_axis_tlast(sf_mem[sf_rd][SCORE_W]),
      .m_axis_tdata(p_data),
      .m_axis_tvalid(p_valid),
      .m_axis_tready(p_ready),
      .m_axis_tlast(p_last)
  );

  logic unused_p_last;
  assign unused_p_last = p_last;                          // rows are counted, not marked

  // ---- context engine: p[j] * v[j] per head -> output token ---------------------------------------
  logic pv_active;                                        // p_reg holds a probability to use
  logic [P_W-1:0] p_reg;
  logic [TI_W-1:0] pi, pj;
  logic [H_W-1:0] ph;
  logic [SL_W-1:0] pbase;                                 // ph * NB
  logic [B_W-1:0] pb;
  logic [AW-1:0] pj_row;                                  // pj * NS
  logic pv_issue, pv_issue_last, v_adv, v_consume, out_free;

  logic vr_valid, vr_first, vr_final, vr_tok_end, vr_frame_end;
  logic [P_W-1:0] vr_p;
  logic [1:0] vr_user;
  logic [SIMD*V_W-1:0] v_x;

  assign out_free = !m_axis_tvalid || m_axis_tready;
  assign v_consume = vr_valid && (!vr_final || out_free);
  assign v_adv = !vr_valid || v_consume;
  assign pv_issue = pv_active && v_adv;
  assign pv_issue_last = pv_issue && (pb == B_LAST);
  assign p_ready = !pv_active || pv_issue_last;

  always_ff @(posedge clk) begin
    if (p_valid && p_ready) begin
      p_reg <= p_data;
    end
    if (v_adv) begin
      v_x <= v_mem[pj_row + AW'(pbase + SL_W'(pb))];
      vr_p <= p_reg;
      vr_first <= (pj == '0);
      vr_final <= (pj == last_tok);
      vr_tok_end <= (pj == last_tok) && (ph == H_LAST) && (pb == B_LAST);
      vr_frame_end <= (pj == last_tok) && (ph == H_LAST) && (pb == B_LAST) && (pi == last_tok);
      vr_user <= u_mem[pi];
    end
  end

  // DH accumulators as NB rotating groups of SIMD: beat b of every j uses group 0 and puts the
  // new sum at the tail, so after NB beats group b is back at position b.
  logic signed [CA_W-1:0] acc[NB][SIMD];
  logic signed [CA_W-1:0] c_sum[SIMD];
  logic [SIMD*CTX_W-1:0] c_req;
  for (genvar s = 0; s < SIMD; s++) begin : g_pv
    logic signed [PV_W-1:0] prod;
    assign prod = PV_W'($signed({1'b0, vr_p})) * PV_W'($signed(v_x[s*V_W+:V_W]));
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
  end

  // output register: NS slices, shifted in channel order as the heads finish
  logic [SIMD*CTX_W-1:0] out_sl[NS];
  always_ff @(posedge clk) begin
    if (v_consume && vr_final) begin
      for (int g = 0; g < NS - 1; g++) begin
        out_sl[g] <= out_sl[g+1];
      end
      out_sl[NS-1] <= c_req;
    end
    if (v_consume && vr_tok_end) begin
      m_axis_tlast <= vr_frame_end;
      m_axis_tuser <= vr_user;
    end
  end
  for (genvar g = 0; g < NS; g++) begin : g_out
    assign m_axis_tdata[g*SIMD*CTX_W+:SIMD*CTX_W] = out_sl[g];
  end

  // ---- control -----------------------------------------------------------------------------------
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      state <= LOAD;
      q_wa <= '0;
      k_wa <= '0;
      v_wa <= '0;
      q_ws <= '0;
      k_ws <= '0;
      v_ws <= '0;
      q_tok <= '0;
      q_in_done <= 1'b0;
      k_in_done <= 1'b0;
      v_in_done <= 1'b0;
      s_busy <= 1'b0;
      si <= '0;
      sj <= '0;
      sh <= '0;
      sbase <= '0;
      sb <= '0;
      si_row <= '0;
      sj_row <= '0;
      rd_valid <= 1'b0;
      sf_wr <= '0;
      sf_rd <= '0;
      sf_cnt <= '0;
      pv_active <= 1'b0;
      pi <= '0;
      pj <= '0;
      ph <= '0;
      pbase <= '0;
      pb <= '0;
      pj_row <= '0;
      vr_valid <= 1'b0;
      m_axis_tvalid <= 1'b0;
    end else begin
      // load
      if (q_wr) begin
        q_wa <= (q_fire && s_axis_q_tlast) ? '0 : q_wa + 1'b1;
        q_ws <= (q_ws == SL_LAST) ? '0 : q_ws + 1'b1;
      end
      if (k_wr) begin
        k_wa <= (k_fire && s_axis_k_tlast) ? '0 : k_wa + 1'b1;
        k_ws <= (k_ws == SL_LAST) ? '0 : k_ws + 1'b1;
      end
      if (v_wr) begin
        v_wa <= (v_fire && s_axis_v_tlast) ? '0 : v_wa + 1'b1;
        v_ws <= (v_ws == SL_LAST) ? '0 : v_ws + 1'b1;
      end
      if (q_fire) begin
        q_tok <= s_axis_q_tlast ? '0 : q_tok + 1'b1;
        q_in_done <= s_axis_q_tlast;
      end
      if (k_fire) begin
        k_in_done <= s_axis_k_tlast;
      end
      if (v_fire) begin
        v_in_done <= s_axis_v_tlast;
      end
      if (state == LOAD && q_in_done && k_in_done && v_in_done) begin
        state <= RUN;
        s_busy <= 1'b1;
        q_in_done <= 1'b0;
        k_in_done <= 1'b0;
        v_in_done <= 1'b0;
      end
      if (v_consume && vr_frame_end) begin
        state <= LOAD;
      end

      // score engine: i, h, j, beat
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
              if (si != last_tok) begin
                si <= si + 1'b1;
                si_row <= si_row + A_NS;
              end else begin
                si <= '0;
                si_row <= '0;
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

      // context engine: i, h, j, beat
      if (p_valid && p_ready) begin
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
              pi <= (pi != last_tok) ? pi + 1'b1 : '0;
            end
          end
        end
      end
      if (v_consume && vr_tok_end) begin
        m_axis_tvalid <= 1'b1;
      end else if (m_axis_tready) begin
        m_axis_tvalid <= 1'b0;
      end
    end
  end
endmodule
