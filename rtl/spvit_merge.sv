// spvit_merge: R beats of L lanes into one token of R*L lanes (the inverse of spvit_split).
//
// Input beats r = 0..R-1 of a group become lanes [r*L, (r+1)*L) of the output beat (lane j of an
// input beat at s_axis_tdata[j*W +: W]; lane i of the output at m_axis_tdata[i*W +: W]); the
// output's tuser is the first beat's, its tlast the last beat's.  The beats are shifted into a
// register from the top (each accepted beat shifts the register down by L lanes), which is the
// output register once R beats are in; the first beat of the next group enters in the cycle the
// finished output is taken.
//
// Cycles: latency 1 (from the group's last input beat); one input beat a cycle without
// back-pressure (an output beat every R cycles).  Preconditions: the stream is a whole number of
// R-beat groups (R >= 1).
module spvit_merge #(
    parameter int L      = 2,   // lanes per input beat
    parameter int R      = 2,   // input beats per output beat
    parameter int W      = 8,   // bits per lane
    parameter int USER_W = 2    // tuser bits (token kind)
) (
    input  logic                clk,
    input  logic                rst_n,
    input  logic [L*W-1:0]      s_axis_tdata,
    input  logic                s_axis_tvalid,
    output logic                s_axis_tready,
    input  logic                s_axis_tlast,
    input  logic [USER_W-1:0]   s_axis_tuser,
    output logic [R*L*W-1:0]    m_axis_tdata,
    output logic                m_axis_tvalid,
    input  logic                m_axis_tready,
    output logic                m_axis_tlast,
    output logic [USER_W-1:0]   m_axis_tuser
);
  localparam int SW = L * W;               // bits per input beat
  localparam int TW = R * SW;              // bits per output beat
  localparam int C_W = (R > 1) ? $clog2(R) : 1;
  localparam logic [C_W-1:0] C_LAST = C_W'(R - 1);

  logic [C_W-1:0] cnt;                     // index of the next input beat within its group
  logic fire;

  assign s_axis_tready = !m_axis_tvalid || m_axis_tready;
  assign fire = s_axis_tvalid && s_axis_tready;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      m_axis_tvalid <= 1'b0;
      cnt <= '0;
    end else begin
      if (fire) cnt <= (cnt == C_LAST) ? '0 : cnt + 1'b1;
      if (fire && cnt == C_LAST) m_axis_tvalid <= 1'b1;
      else if (m_axis_tready) m_axis_tvalid <= 1'b0;
    end
  end

  always_ff @(posedge clk) begin
    if (fire) begin
      m_axis_tdata <= (m_axis_tdata >> SW) | (TW'(s_axis_tdata) << (TW - SW));
      if (cnt == '0) m_axis_tuser <= s_axis_tuser;
      m_axis_tlast <= s_axis_tlast;
    end
  end
endmodule
