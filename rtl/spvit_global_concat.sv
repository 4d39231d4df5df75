// spvit_global_concat: the token selector's global feature and its concatenation
// (reference.py _select: g = int_token_mean(f[..., DH/2:]), z = cat(f[..., :DH/2], g)).
//
//   g[h][c]  = sat_F( RNE(sum_j f[j][h][DH/2 + c] * 2^UP / n) )   (intops.int_token_mean over the
//              n tokens of the frame, per head h and channel c < DH/2; spvit_token_mean)
//   z[j][h]  = { g[h], f[j][h][0 : DH/2] }                        (lanes 0..DH/2-1: f's first
//              half, lanes DH/2..DH-1: g[h])
//
// Input: a sub-token stream (rtl/DATAFLOW.md) of one frame's f values: per token j, H beats, beat h
// = f[j][h][0:DH] (DH lanes of F_W bits, signed), tuser (USER_W bits, the token kind) on every
// beat, tlast on the frame's last beat.  Output: the same frame as z sub-tokens, beat (j, h) =
// z[j][h] (DH lanes of F_W bits), tuser and tlast of the input beat.
// The first halves and the tuser bits are stored in a frame buffer (FRAMES*N_MAX*H words of
// USER_W + DH/2*F_W bits, written while the frame arrives, read with a registered read in the
// replay); the second halves go to spvit_token_mean (C = H*DH/2 channels a token, LANES lanes a
// beat, S = DH/(2*LANES) beats a sub-token, all tokens live) as the frame arrives.  When its
// H*DH/2 means are in (a means register per buffer half, FRAMES*H*DH/2*F_W bits), the frame is
// replayed from the buffer with g[h] beside each first half.  FRAMES = 1: one frame at a time,
// the input is held off from the frame's last beat until its last z beat is in the output
// register.  FRAMES = 2: two buffer halves used in turn; the next frame is received (and its
// means computed) while the previous one is replayed; the input waits only for a half whose
// frame (two frames back) has not been replayed completely.
// Cycles without stalls, with G = H*S mean groups and D = ceil((F_W + max(UP, 0))/DIV_STEPS) + 1
// (checked exactly by rtl_sim/tb_tokwrap.py): FRAMES = 1: per frame of n tokens
// n*H*(S + 1) + G*D + 2 (receive n*H*S, the token mean's divisions G*D, replay n*H); frames
// back to back take the sum of these plus 1 from the first input beat to the last output beat.
// FRAMES = 2, frames i of n_i tokens back to back, cycle 0 = the first input beat:
//   a_i = max(e_{i-1}, r_{i-2} + 1)              first input beat (hbuf free, half free)
//   e_i = max(a_i + 1, m_{i-1} - D + 1) + n_i*H*S - 1   last token-mean input beat (after the
//                                                 previous frame's last group entered the dividers)
//   m_i = max(e_i + 1, m_{i-1}) + G*D            last mean taken
//   r_i = max(m_i + 1, r_{i-1} + 1) + n_i*H - 1  last replay beat issued
// (terms of frames before 0 left out), total r_last + 2.  For frames of equal n that is on
// average one frame every max(n*H*S + (G-1)*D + 1, (n*H*(S+1) + G*D + 2) / 2) cycles (the token
// mean's own interval, or each half's receive + divisions + replay over two frames) instead of
// n*H*(S+1) + G*D + 2.  With the input slower than that (a beat every P cycles from an upstream
// GEMM unit, n*H*P above both terms) the unit keeps pace with its input: the replay and the
// divisions of a frame overlap the next frame's receive (derived from the same timing; the
// testbench checks the full-rate recurrence).
// Preconditions: DH even, LANES divides DH/2, a frame holds 1..N_MAX tokens of exactly H beats
// (tlast on a token's beat H-1), N_MAX*H >= 2.
module spvit_global_concat #(
    parameter int DH        = 32,     // channels of a head (sub-token width)
    parameter int H         = 2,      // heads (beats a token)
    parameter int F_W       = 8,      // width of f, g and z (signed)
    parameter int N_MAX     = 64,     // most tokens in a frame
    parameter int UP        = 0,      // f_out - f_in of the mean (0: g in f's format)
    parameter int LANES     = 16,     // token-mean lanes / dividers (LANES divides DH/2)
    parameter int DIV_STEPS = 3,      // divider quotient bits per cycle
    parameter int USER_W    = 2,      // tuser width (token kind)
    parameter int FRAMES    = 1       // frame buffers: 1, or 2 (receive frame i+1 while replaying i)
) (
    input  logic               clk,
    input  logic               rst_n,
    input  logic [DH*F_W-1:0]  s_axis_tdata,    // f[j][h][0:DH]
    input  logic               s_axis_tvalid,
    output logic               s_axis_tready,
    input  logic               s_axis_tlast,    // last beat of the frame
    input  logic [USER_W-1:0]  s_axis_tuser,    // token kind
    output logic [DH*F_W-1:0]  m_axis_tdata,    // z[j][h] = {g[h], f[j][h][0:DH/2]}
    output logic               m_axis_tvalid,
    input  logic               m_axis_tready,
    output logic               m_axis_tlast,
    output logic [USER_W-1:0]  m_axis_tuser
);
  localparam int HALF = DH / 2;                           // channels of a half
  localparam int HW = HALF * F_W;                         // bits of a half
  localparam int BPS = HALF / LANES;                      // token-mean beats a sub-token
  localparam int BS_W = (BPS > 1) ? $clog2(BPS) : 1;
  localparam int DEPTH = N_MAX * H;                       // frame buffer words
  localparam int FA_W = $clog2(FRAMES * DEPTH);           // frame buffer address
  localparam int CNT_W = $clog2(DEPTH + 1);               // beats of the frame
  localparam int C_TM = H * HALF;                         // token-mean channels
  localparam int GB = C_TM / LANES;                       // token-mean output beats
  localparam int GB_W = (GB > 1) ? $clog2(GB) : 1;
  localparam int RH_W = (H > 1) ? $clog2(H) : 1;

  // ---- frame buffer halves (FRAMES = 2; with FRAMES = 1 wb = mb = rb = 0) ---------------------------
  // full[b]: half b holds a received frame not yet replayed completely; gready[b]: its means are in
  // g_reg[b] (replay may run).  wb: the half being received, mb: the half whose means come next
  // from the token mean, rb: the half replayed next.  Frames go through all three in order.
  logic [1:0] full, gready;
  logic wb, mb, rb;
  logic [FA_W-1:0] wbase, rbase;                          // first word of the half
  assign wbase = wb ? FA_W'(DEPTH) : '0;
  assign rbase = rb ? FA_W'(DEPTH) : '0;

  // ---- receive: first halves to the buffer, second halves to the token mean ------------------------
  logic [USER_W+HW-1:0] fmem[FRAMES*DEPTH];
  logic [CNT_W-1:0] n_beats;                              // beats received of the current frame
  logic [CNT_W-1:0] last_beat[2];                         // per half: index of its frame's last beat
  logic [HW-1:0] hbuf;
  logic hfull, hlast;
  logic [BS_W-1:0] hb;
  logic s_fire, tm_s_tready, tm_s_fire, h_done, tm_s_tlast;

  assign tm_s_fire = hfull && tm_s_tready;
  assign h_done = tm_s_fire && (hb == BS_W'(BPS - 1));
  assign tm_s_tlast = hlast && (hb == BS_W'(BPS - 1));
  assign s_axis_tready = !full[wb] && (!hfull || h_done);
  assign s_fire = s_axis_tvalid && s_axis_tready;

  always_ff @(posedge clk) begin
    if (s_fire) begin
      fmem[wbase+FA_W'(n_beats)] <= {s_axis_tuser, s_axis_tdata[HW-1:0]};
      if (s_axis_tlast) begin
        last_beat[wb] <= n_beats;
      end
      hbuf <= s_axis_tdata[DH*F_W-1:HW];
      hlast <= s_axis_tlast;
    end
  end

  // ---- token mean over the frame --------------------------------------------------------------------
  logic [LANES*F_W-1:0] tm_m_tdata;
  logic tm_m_tvalid, tm_m_tready, tm_m_tlast, tm_m_fire;

  spvit_token_mean #(
      .C(C_TM),
      .LANES(LANES),
      .IN_W(F_W),
      .N_MAX(N_MAX),
      .UP(UP),
      .OUT_W(F_W),
      .OUT_SIGNED(1'b1),
      .DIV_STEPS(DIV_STEPS)
  ) u_mean (
      .clk(clk),
      .rst_n(rst_n),
      .s_axis_tdata(hbuf[hb*LANES*F_W+:LANES*F_W]),
      .s_axis_tvalid(hfull),
      .s_axis_tready(tm_s_tready),
      .s_axis_tlast(tm_s_tlast),
      .s_axis_tuser(1'b1),
      .m_axis_tdata(tm_m_tdata),
      .m_axis_tvalid(tm_m_tvalid),
      .m_axis_tready(tm_m_tready),
      .m_axis_tlast(tm_m_tlast)
  );

  // the means of channel h*HALF + c, LANES a beat, in channel order, per half (g_reg[mb] is free
  // whenever means arrive: half mb's previous frame has been replayed before its next one came in)
  logic [C_TM*F_W-1:0] g_reg[FRAMES];
  logic [GB_W-1:0] gi;
  assign tm_m_tready = 1'b1;
  assign tm_m_fire = tm_m_tvalid && tm_m_tready;

  always_ff @(posedge clk) begin
    if (tm_m_fire) begin
      g_reg[mb][gi*LANES*F_W+:LANES*F_W] <= tm_m_tdata;
    end
  end

  // ---- replay: z = {g[h], first half} ---------------------------------------------------------------
  logic [CNT_W-1:0] rd_idx;
  logic [RH_W-1:0] rh;
  logic issue, rd_end;
  logic [USER_W+HW-1:0] rd_word;
  assign issue = gready[rb] && (!m_axis_tvalid || m_axis_tready);
  assign rd_end = (rd_idx == last_beat[rb]);
  assign rd_word = fmem[rbase+FA_W'(rd_idx)];

  always_ff @(posedge clk) begin
    if (issue) begin
      m_axis_tdata <= {g_reg[rb][rh*HW+:HW], rd_word[HW-1:0]};
      m_axis_tuser <= rd_word[USER_W+HW-1:HW];
      m_axis_tlast <= rd_end;
    end
  end

  // ---- control -------------------------------------------------------------------------------------
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      full <= '0;
      gready <= '0;
      wb <= 1'b0;
      mb <= 1'b0;
      rb <= 1'b0;
      n_beats <= '0;
      hfull <= 1'b0;
      hb <= '0;
      gi <= '0;
      rd_idx <= '0;
      rh <= '0;
      m_axis_tvalid <= 1'b0;
    end else begin
      if (tm_s_fire) begin
        hb <= (hb == BS_W'(BPS - 1)) ? '0 : hb + 1'b1;
      end
      if (h_done) begin
        hfull <= 1'b0;
      end
      if (m_axis_tready) begin
        m_axis_tvalid <= 1'b0;
      end
      if (s_fire) begin
        hfull <= 1'b1;
        n_beats <= s_axis_tlast ? '0 : n_beats + 1'b1;
        if (s_axis_tlast) begin
          full[wb] <= 1'b1;
          wb <= (FRAMES > 1) ? !wb : 1'b0;
        end
      end
      if (tm_m_fire) begin
        gi <= tm_m_tlast ? '0 : gi + 1'b1;
        if (tm_m_tlast) begin
          gready[mb] <= 1'b1;
          mb <= (FRAMES > 1) ? !mb : 1'b0;
        end
      end
      if (issue) begin
        m_axis_tvalid <= 1'b1;
        rd_idx <= rd_end ? '0 : rd_idx + 1'b1;
        rh <= (rh == RH_W'(H - 1)) ? '0 : rh + 1'b1;
        if (rd_end) begin
          gready[rb] <= 1'b0;
          full[rb] <= 1'b0;
          rb <= (FRAMES > 1) ? !rb : 1'b0;
        end
      end
    end
  end
endmodule
