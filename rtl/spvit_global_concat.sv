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
// The first halves and the tuser bits are stored in a frame buffer (N_MAX*H words, written while
// the frame arrives, read with a registered read in the replay); the second halves go to
// spvit_token_mean (C = H*DH/2 channels a token, LANES lanes a beat, DH/(2*LANES) beats a
// sub-token, all tokens live) as the frame arrives.  When its H*DH/2 means are in, the frame is
// replayed from the buffer with g[h] beside each first half.  One frame at a time: the input is
// held off from the frame's last beat until its last z beat is in the output register.
// Cycles per frame of n tokens without stalls, with S = DH/(2*LANES) token-mean beats a sub-token,
// G = H*S mean groups and D = ceil((F_W + max(UP, 0))/DIV_STEPS) + 1:  n*H*(S + 1) + G*D + 2
// (receive n*H*S, the token mean's divisions G*D, replay n*H); frames back to back take the sum
// of these plus 1 from the first input beat to the last output beat (checked by
// rtl_sim/tb_tokwrap.py).
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
    parameter int USER_W    = 2       // tuser width (token kind)
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
  localparam int FA_W = $clog2(DEPTH);                    // frame buffer address
  localparam int CNT_W = $clog2(DEPTH + 1);               // beats of the frame
  localparam int C_TM = H * HALF;                         // token-mean channels
  localparam int GB = C_TM / LANES;                       // token-mean output beats
  localparam int GB_W = (GB > 1) ? $clog2(GB) : 1;
  localparam int RH_W = (H > 1) ? $clog2(H) : 1;

  typedef enum logic [1:0] {
    RECV,
    GMEAN,
    REPLAY
  } state_t;
  state_t state;

  // ---- receive: first halves to the buffer, second halves to the token mean ------------------------
  logic [USER_W+HW-1:0] fmem[DEPTH];
  logic [CNT_W-1:0] n_beats;
  logic [HW-1:0] hbuf;
  logic hfull, hlast;
  logic [BS_W-1:0] hb;
  logic s_fire, tm_s_tready, tm_s_fire, h_done, tm_s_tlast;

  assign tm_s_fire = hfull && tm_s_tready;
  assign h_done = tm_s_fire && (hb == BS_W'(BPS - 1));
  assign tm_s_tlast = hlast && (hb == BS_W'(BPS - 1));
  assign s_axis_tready = (state == RECV) && (!hfull || h_done);
  assign s_fire = s_axis_tvalid && s_axis_tready;

  always_ff @(posedge clk) begin
    if (s_fire) begin
      fmem[FA_W'(n_beats)] <= {s_axis_tuser, s_axis_tdata[HW-1:0]};
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

  // the means of channel h*HALF + c, LANES a beat, in channel order
  logic [C_TM*F_W-1:0] g_reg;
  logic [GB_W-1:0] gi;
  assign tm_m_tready = (state == GMEAN);
  assign tm_m_fire = tm_m_tvalid && tm_m_tready;

  always_ff @(posedge clk) begin
    if (tm_m_fire) begin
      g_reg[gi*LANES*F_W+:LANES*F_W] <= tm_m_tdata;
    end
  end

  // ---- replay: z = {g[h], first half} ---------------------------------------------------------------
  logic [CNT_W-1:0] rd_idx;
  logic [RH_W-1:0] rh;
  logic issue, rd_end;
  logic [USER_W+HW-1:0] rd_word;
  assign issue = (state == REPLAY) && (!m_axis_tvalid || m_axis_tready);
  assign rd_end = (rd_idx == n_beats - 1'b1);
  assign rd_word = fmem[FA_W'(rd_idx)];

  always_ff @(posedge clk) begin
    if (issue) begin
      m_axis_tdata <= {g_reg[rh*HW+:HW], rd_word[HW-1:0]};
      m_axis_tuser <= rd_word[USER_W+HW-1:HW];
      m_axis_tlast <= rd_end;
    end
  end

  // ---- control -------------------------------------------------------------------------------------
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      state <= RECV;
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
      unique case (state)
        RECV: begin
          if (s_fire) begin
            hfull <= 1'b1;
            n_beats <= n_beats + 1'b1;
            if (s_axis_tlast) begin
              state <= GMEAN;
            end
          end
        end
        GMEAN: begin
          if (tm_m_fire) begin
            gi <= tm_m_tlast ? '0 : gi + 1'b1;
            if (tm_m_tlast) begin
              state <= REPLAY;
              rd_idx <= '0;
              rh <= '0;
            end
          end
        end
        REPLAY: begin
          if (issue) begin
            m_axis_tvalid <= 1'b1;
            rd_idx <= rd_idx + 1'b1;
            rh <= (rh == RH_W'(H - 1)) ? '0 : rh + 1'b1;
            if (rd_end) begin
              state <= RECV;
              n_beats <= '0;
            end
          end
        end
        default: state <= RECV;
      endcase
    end
  end
endmodule
