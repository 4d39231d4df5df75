// spvit_head_mean: per-head channel mean of a token, the input of the selector's SE head-weight
// MLP (intops.int_head_mean).
//
//   S_h = sum_{c in [h*DH, (h+1)*DH)} x_c               (DH = C / H, exact, S_W bits)
//   u_h = sat_out( RNE(S_h * 2^UP / DH) )               (spvit_divider, signed)
// UP = f_out - f_in; a negative UP multiplies the divisor by 2^-UP instead (one rounding, as
// intops._scaled_div).  |S_h| <= DH * 2^(IN_W-1), so the quotient needs
// Q_W = IN_W + max(UP, 0) bits (spvit_divider precondition |num| < den * 2^Q_W).
//
// Input: one token in C/LANES beats of LANES signed IN_W-bit channels (lane i of a beat at
// [i*IN_W +: IN_W], channels in order); tlast on a token's last beat (e.g. the frame's last
// token) is carried to that token's output beat.  Output: one beat a token holding H lanes of
// OUT_W bits (u_h at [h*OUT_W +: OUT_W]).  Heads are summed as they arrive; a finished head sum
// waits in one register for the divider, so the input stalls only when a head ends while the
// previous head is still waiting.  Full-rate throughput: one head every
// max(DH/LANES, ceil(Q_W/DIV_STEPS) + 1) cycles.
// Preconditions: H divides C and LANES divides DH = C/H (a beat never spans two heads).
module spvit_head_mean #(
    parameter int C          = 64,     // channels per token
    parameter int H          = 4,      // heads (H divides C)
    parameter int LANES      = 4,      // channels per beat (LANES divides C/H)
    parameter int IN_W       = 16,     // input width (signed)
    parameter int UP         = 0,      // f_out - f_in
    parameter int OUT_W      = 8,      // output width
    parameter bit OUT_SIGNED = 1'b1,   // output format signed (else unsigned: negatives -> 0)
    parameter int DIV_STEPS  = 3       // divider quotient bits per cycle
) (
    input  logic                  clk,
    input  logic                  rst_n,
    input  logic [LANES*IN_W-1:0] s_axis_tdata,
    input  logic                  s_axis_tvalid,
    output logic                  s_axis_tready,
    input  logic                  s_axis_tlast,
    output logic [H*OUT_W-1:0]    m_axis_tdata,   // u[H]
    output logic                  m_axis_tvalid,
    input  logic                  m_axis_tready,
    output logic                  m_axis_tlast
);
  localparam int DH = C / H;                       // channels per head
  localparam int BPH = DH / LANES;                 // beats per head
  localparam int UPP = (UP > 0) ? UP : 0;
  localparam int DNP = (UP < 0) ? -UP : 0;
  localparam int S_W = IN_W + $clog2(DH + 1);      // head sum (signed)
  localparam int NUM_W = S_W + UPP;
  localparam int DEN_W = $clog2(DH + 1) + DNP;
  localparam int Q_W = IN_W + UPP;
  localparam int DOUT_W = Q_W + 2;                 // signed divider result (+-2^Q_W)
  localparam int B_W = (BPH > 1) ? $clog2(BPH) : 1;
  localparam int HI_W = (H > 1) ? $clog2(H) : 1;

  // ---- accumulate a head's channels -------------------------------------------------------------
  logic fire;
  logic [B_W-1:0] bi;                              // beat within the head
  logic signed [S_W-1:0] acc, beat_sum, acc_n;
  logic head_end;

  always_comb begin : p_beat_sum
    beat_sum = '0;
    for (int l = 0; l < LANES; l++) begin
      beat_sum = beat_sum + S_W'($signed(s_axis_tdata[l*IN_W+:IN_W]));
    end
  end
  assign acc_n = (bi == '0) ? beat_sum : acc + beat_sum;
  assign head_end = (bi == B_W'(BPH - 1));

  // ---- a finished head sum waits here for the divider ------------------------------------------
  logic pend_valid, pend_last, div_ready;
  logic signed [S_W-1:0] pend_sum;
  logic [NUM_W-1:0] num;
  logic [DEN_W-1:0] den;

  assign s_axis_tready = !pend_valid || div_ready;
  assign fire = s_axis_tvalid && s_axis_tready;
  assign num = NUM_W'(pend_sum) << UPP;            // sign-extended, then shifted
  assign den = DEN_W'(DH) << DNP;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      bi <= '0;
      pend_valid <= 1'b0;
    end else begin
      if (div_ready) begin
        pend_valid <= 1'b0;
      end
      if (fire) begin
        bi <= head_end ? '0 : bi + 1'b1;
        if (head_end) begin
          pend_valid <= 1'b1;
        end
      end
    end
  end

  always_ff @(posedge clk) begin
    if (fire) begin
      acc <= acc_n;
      if (head_end) begin
        pend_sum <= acc_n;
        pend_last <= s_axis_tlast;
      end
    end
  end

  // ---- division and saturation --------------------------------------------------------------------
  logic [DOUT_W-1:0] q;
  logic q_valid, q_ready, q_last;
  logic [OUT_W-1:0] u;
  logic unused_user;

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
      .s_axis_tvalid(pend_valid),
      .s_axis_tready(div_ready),
      .s_axis_tlast(pend_last),
      .s_axis_tuser(1'b0),
      .m_axis_tdata(q),
      .m_axis_tvalid(q_valid),
      .m_axis_tready(q_ready),
      .m_axis_tlast(q_last),
      .m_axis_tuser(unused_user)
  );

  spvit_saturate #(
      .IN_W(DOUT_W),
      .OUT_W(OUT_W),
      .OUT_SIGNED(OUT_SIGNED)
  ) u_sat (
      .x(q),
      .y(u)
  );

  // ---- gather the H head means of a token into one output beat --------------------------------
  logic [HI_W-1:0] hi;
  logic q_fire, tok_end;
  assign q_ready = !m_axis_tvalid || m_axis_tready;
  assign q_fire = q_valid && q_ready;
  assign tok_end = (hi == HI_W'(H - 1));

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      hi <= '0;
      m_axis_tvalid <= 1'b0;
    end else begin
      if (m_axis_tready) begin
        m_axis_tvalid <= 1'b0;
      end
      if (q_fire) begin
        hi <= tok_end ? '0 : hi + 1'b1;
        if (tok_end) begin
          m_axis_tvalid <= 1'b1;
        end
      end
    end
  end

  always_ff @(posedge clk) begin
    if (q_fire) begin
      m_axis_tdata[hi*OUT_W+:OUT_W] <= u;
      if (tok_end) begin
        m_axis_tlast <= q_last;
      end
    end
  end
endmodule
