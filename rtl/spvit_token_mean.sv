// spvit_token_mean: mean over the live tokens of a frame, the selector's global feature
// (intops.int_token_mean).
//
//   n   = number of live tokens in the frame
//   g_c = sat_out( RNE(sum_{j live} x_jc * 2^UP / n) )   if n > 0
//       = 0                                               if n == 0
// UP = f_out - f_in; a negative UP multiplies the divisor by 2^-UP instead (one rounding, as
// intops._scaled_div).  |sum| <= n * 2^(IN_W-1), so each of the LANES dividers (spvit_divider,
// signed, run in lock-step) needs Q_W = IN_W + max(UP, 0) quotient bits.  With n == 0 every sum
// is 0 and the divisor is taken as 1, which gives the defined 0.
//
// Input frame: tokens of C/LANES beats, LANES signed IN_W-bit channels a beat (lane i at
// [i*IN_W +: IN_W]); s_axis_tuser = live flag of the token (constant over its beats); tlast on
// the last beat of the frame.  Output: the C means in C/LANES beats (LANES lanes of OUT_W bits),
// tlast on the last.  Per channel one S_W-bit sum in a register file of C/LANES words
// (distributed RAM).  The frame is accepted at one beat a cycle; then the B = C/LANES division
// groups enter the dividers one every D = ceil(Q_W/DIV_STEPS) + 1 cycles, while the input is
// held off; the next frame is accepted as soon as the last group has entered the dividers.
// Cycles without stalls (checked by rtl_sim/tb_token_mean.py), frames of T_i tokens back to back,
// from the first input beat to the last output beat:  sum_i (R_i + (B-1)*D + 1)  +  D, with
// R_0 = T_0*B and R_i = max(T_i*B, D-1) (a short frame waits for the previous frame's last
// division before its first group can enter the dividers).
// Preconditions: LANES divides C, a frame holds 1..N_MAX tokens, tlast on a token's last beat.
module spvit_token_mean #(
    parameter int C          = 16,     // channels per token
    parameter int LANES      = 4,      // channels per beat (LANES divides C)
    parameter int IN_W       = 8,      // input width (signed)
    parameter int N_MAX      = 16,     // most tokens in a frame
    parameter int UP         = 0,      // f_out - f_in
    parameter int OUT_W      = 8,      // output width
    parameter bit OUT_SIGNED = 1'b1,   // output format signed (else unsigned: negatives -> 0)
    parameter int DIV_STEPS  = 3       // divider quotient bits per cycle
) (
    input  logic                   clk,
    input  logic                   rst_n,
    input  logic [LANES*IN_W-1:0]  s_axis_tdata,
    input  logic                   s_axis_tvalid,
    output logic                   s_axis_tready,
    input  logic                   s_axis_tlast,   // last beat of the frame
    input  logic                   s_axis_tuser,   // token is live
    output logic [LANES*OUT_W-1:0] m_axis_tdata,
    output logic                   m_axis_tvalid,
    input  logic                   m_axis_tready,
    output logic                   m_axis_tlast
);
  localparam int BPT = C / LANES;                  // beats per token
  localparam int N_W = $clog2(N_MAX + 1);          // live-token count
  localparam int S_W = IN_W + N_W;                 // channel sum (signed)
  localparam int UPP = (UP > 0) ? UP : 0;
  localparam int DNP = (UP < 0) ? -UP : 0;
  localparam int NUM_W = S_W + UPP;
  localparam int DEN_W = N_W + DNP;
  localparam int Q_W = IN_W + UPP;
  localparam int DOUT_W = Q_W + 2;                 // signed divider result (+-2^Q_W)
  localparam int B_W = (BPT > 1) ? $clog2(BPT) : 1;

  typedef enum logic {
    ACC,
    DIV
  } state_t;
  state_t state;

  // ---- pass 1: accumulate the live tokens ------------------------------------------------------
  logic [LANES*S_W-1:0] acc[BPT];                  // channel sums, one word per beat position
  logic [B_W-1:0] bi;                              // beat within the token (ACC) / group (DIV)
  logic first_tok;                                 // the first token of a frame overwrites acc
  logic [N_W-1:0] n_live, n_live_next;
  logic fire, tok_end;
  logic [LANES*S_W-1:0] acc_rd, acc_wr;

  assign s_axis_tready = (state == ACC);
  assign fire = s_axis_tvalid && s_axis_tready;
  assign tok_end = (bi == B_W'(BPT - 1));
  assign acc_rd = acc[bi];
  assign n_live_next = (first_tok ? '0 : n_live) + N_W'(s_axis_tuser);

  always_comb begin : p_acc
    for (int l = 0; l < LANES; l++) begin
      acc_wr[l*S_W+:S_W] = (first_tok ? '0 : acc_rd[l*S_W+:S_W])
                         + (s_axis_tuser ? S_W'($signed(s_axis_tdata[l*IN_W+:IN_W])) : '0);
    end
  end

  always_ff @(posedge clk) begin
    if (fire) begin
      acc[bi] <= acc_wr;
    end
  end

  // ---- pass 2: one division group per beat position ----------------------------------------
  logic div_valid, div_ready, group_last;
  logic [DEN_W-1:0] den;
  logic [LANES-1:0] lane_sready, lane_mvalid, lane_mlast, lane_muser;
  assign div_valid = (state == DIV);
  assign div_ready = lane_sready[0];               // the dividers run in lock-step
  assign group_last = tok_end;
  assign den = DEN_W'((n_live == '0) ? N_W'(1) : n_live) << DNP;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      state <= ACC;
      bi <= '0;
      first_tok <= 1'b1;
      n_live <= '0;
    end else if (state == ACC) begin
      if (fire) begin
        bi <= tok_end ? '0 : bi + 1'b1;
        if (tok_end) begin
          n_live <= n_live_next;
          first_tok <= s_axis_tlast;
          if (s_axis_tlast) begin
            state <= DIV;
          end
        end
      end
    end else if (div_ready) begin
      bi <= tok_end ? '0 : bi + 1'b1;
      if (tok_end) begin
        state <= ACC;
      end
    end
  end

  for (genvar l = 0; l < LANES; l++) begin : g_lane
    logic [NUM_W-1:0] num;
    logic [DOUT_W-1:0] q;
    assign num = NUM_W'($signed(acc_rd[l*S_W+:S_W])) << UPP;
    spvit_divider #(
        .NUM_W(NUM_W),
        .SIGNED(1'b1),
        .DEN_W(DEN_W),
        .Q_W(Q_W),
        .STEPS(DIV_STEPS),
        .USER_W(1),
        .OUT_W(DOUT_W)
    ) u_div (
        .clk(clk),
        .rst_n(rst_n),
        .s_axis_tdata({den, num}),
        .s_axis_tvalid(div_valid),
        .s_axis_tready(lane_sready[l]),
        .s_axis_tlast(group_last),
        .s_axis_tuser(1'b0),
        .m_axis_tdata(q),
        .m_axis_tvalid(lane_mvalid[l]),
        .m_axis_tready(m_axis_tready),
        .m_axis_tlast(lane_mlast[l]),
        .m_axis_tuser(lane_muser[l])
    );
    spvit_saturate #(
        .IN_W(DOUT_W),
        .OUT_W(OUT_W),
        .OUT_SIGNED(OUT_SIGNED)
    ) u_sat (
        .x(q),
        .y(m_axis_tdata[l*OUT_W+:OUT_W])
    );
  end

  assign m_axis_tvalid = lane_mvalid[0];
  assign m_axis_tlast = lane_mlast[0];

  // Lanes 1.. repeat lane 0's handshake (lock-step); the dividers' tuser is not used.
  logic unused_ok;
  assign unused_ok = &{1'b0, lane_sready, lane_mvalid, lane_mlast, lane_muser};
endmodule
