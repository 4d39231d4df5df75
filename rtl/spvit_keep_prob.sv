// spvit_keep_prob: keep probability of a token, the package-token weight (intops.int_keep_prob).
//
//   sigma_h = T_sig[delta_h]                      (spvit_table, $readmemh of intops.sigmoid_table)
//   A = sum_h w_h * sigma_h,  W = sum_h w_h,  S = sum_h sigma_h
//   p = sat_out( RNE(A * 2^UP / W) )              if W > 0
//     = sat_out( RNE(S * 2^UP / H) )              if W == 0 (all heads weighted equally)
// UP = f_out - f_sig; a negative UP multiplies the divisor by 2^-UP instead (one rounding, as
// intops._scaled_div).  The quotient is at most max(sigma) * 2^UP < 2^(SIG_W + max(UP, 0)), so
// the divider (spvit_divider, unsigned) needs Q_W = SIG_W + max(UP, 0) quotient bits.
//
// Input: one beat a token, s_axis_tdata = {delta[H], w[H]} (lane h of w at [h*W_W +: W_W],
// unsigned; lane h of delta at [H*W_W + h*D_W +: D_W], signed), the layout of spvit_token_select's
// selector stream without p.  Output: p (OUT_W bits, unsigned), one beat a token; tlast is
// carried from input to output.  Latency: 1 (table) + ceil(Q_W/DIV_STEPS) + 1 cycles; one token
// every ceil(Q_W/DIV_STEPS) + 1 cycles at full rate (one divider).
module spvit_keep_prob #(
    parameter int H         = 4,              // heads
    parameter int W_W       = 8,              // head weight width (unsigned)
    parameter int D_W       = 8,              // logit difference width (signed); table 2^D_W entries
    parameter int SIG_W     = 8,              // sigmoid-table entry width (unsigned)
    parameter int UP        = 0,              // f_out - f_sig
    parameter int OUT_W     = 8,              // probability width (unsigned)
    parameter int DIV_STEPS = 3,              // divider quotient bits per cycle
    parameter     SIG_FILE  = "sigmoid.hex"   // $readmemh of intops.sigmoid_table(delta_fmt, sig_fmt)
) (
    input  logic                     clk,
    input  logic                     rst_n,
    input  logic [H*(D_W+W_W)-1:0]   s_axis_tdata,   // {delta[H], w[H]}
    input  logic                     s_axis_tvalid,
    output logic                     s_axis_tready,
    input  logic                     s_axis_tlast,
    output logic [OUT_W-1:0]         m_axis_tdata,   // p
    output logic                     m_axis_tvalid,
    input  logic                     m_axis_tready,
    output logic                     m_axis_tlast
);
  localparam int UPP = (UP > 0) ? UP : 0;          // numerator shift
  localparam int DNP = (UP < 0) ? -UP : 0;         // denominator shift
  localparam int H_W = $clog2(H + 1);
  localparam int A_W = W_W + SIG_W + H_W;          // sum w*sigma
  localparam int WS_W = W_W + H_W;                 // sum w (>= H_W bits: also holds H)
  localparam int NUM_W = A_W + UPP;
  localparam int DEN_W = WS_W + DNP;
  localparam int Q_W = SIG_W + UPP;
  localparam int DOUT_W = Q_W + 1;                 // unsigned divider result (<= 2^Q_W)

  // ---- stage 1: sigmoid table on delta, w held beside it --------------------------------------
  logic [H*SIG_W-1:0] sig;
  logic sig_valid, sig_ready, sig_last;
  logic [H*W_W-1:0] w_r;

  spvit_table #(
      .LANES(H),
      .IN_W(D_W),
      .IN_SIGNED(1'b1),
      .OUT_W(SIG_W),
      .INIT_FILE(SIG_FILE)
  ) u_sig (
      .clk(clk),
      .rst_n(rst_n),
      .s_axis_tdata(s_axis_tdata[H*(D_W+W_W)-1:H*W_W]),
      .s_axis_tvalid(s_axis_tvalid),
      .s_axis_tready(s_axis_tready),
      .s_axis_tlast(s_axis_tlast),
      .m_axis_tdata(sig),
      .m_axis_tvalid(sig_valid),
      .m_axis_tready(sig_ready),
      .m_axis_tlast(sig_last)
  );

  // spvit_table loads its output register exactly when a beat is accepted
  always_ff @(posedge clk) begin
    if (s_axis_tvalid && s_axis_tready) begin
      w_r <= s_axis_tdata[H*W_W-1:0];
    end
  end

  // ---- stage 2: sums and the division operands (combinational) ---------------------------------
  logic [A_W-1:0] a_sum;
  logic [WS_W-1:0] w_sum;
  logic [A_W-1:0] s_sum;
  always_comb begin : p_sums
    a_sum = '0;
    w_sum = '0;
    s_sum = '0;
    for (int h = 0; h < H; h++) begin
      a_sum = a_sum + A_W'(w_r[h*W_W+:W_W]) * A_W'(sig[h*SIG_W+:SIG_W]);
      w_sum = w_sum + WS_W'(w_r[h*W_W+:W_W]);
      s_sum = s_sum + A_W'(sig[h*SIG_W+:SIG_W]);
    end
  end

  logic weighted;
  logic [NUM_W-1:0] num;
  logic [DEN_W-1:0] den;
  assign weighted = (w_sum != '0);
  assign num = NUM_W'(weighted ? a_sum : s_sum) << UPP;
  assign den = DEN_W'(weighted ? w_sum : WS_W'(H)) << DNP;

  // ---- stage 3: rounded division and saturation ------------------------------------------------
  logic [DOUT_W-1:0] q;
  logic unused_user;
  spvit_divider #(
      .NUM_W(NUM_W),
      .SIGNED(1'b0),
      .DEN_W(DEN_W),
      .Q_W(Q_W),
      .STEPS(DIV_STEPS),
      .USER_W(1),
      .OUT_W(DOUT_W)
  ) u_div (
      .clk(clk),
      .rst_n(rst_n),
      .s_axis_tdata({den, num}),
      .s_axis_tvalid(sig_valid),
      .s_axis_tready(sig_ready),
      .s_axis_tlast(sig_last),
      .s_axis_tuser(1'b0),
      .m_axis_tdata(q),
      .m_axis_tvalid(m_axis_tvalid),
      .m_axis_tready(m_axis_tready),
      .m_axis_tlast(m_axis_tlast),
      .m_axis_tuser(unused_user)
  );

  spvit_saturate #(
      .IN_W(DOUT_W + 1),
      .OUT_W(OUT_W),
      .OUT_SIGNED(1'b0)
  ) u_sat (
      .x({1'b0, q}),
      .y(m_axis_tdata)
  );
endmodule
