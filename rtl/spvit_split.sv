// spvit_split: one token of R*L lanes into R beats of L lanes (e.g. a token into its per-head
// slices).
//
// Output beat r (r = 0..R-1) of an input beat carries lanes [r*L, (r+1)*L) (lane i of the input
// at s_axis_tdata[i*W +: W]; lane j of an output beat at m_axis_tdata[j*W +: W]); every one of
// the R beats carries the input's tuser; tlast is set only on beat R-1 of an input beat with
// tlast.  The input beat is held in a shift register whose low L*W bits are the output (register
// outputs), shifted down by L lanes per output beat; the next input beat enters in the cycle
// the last of the R beats is taken.
//
// Cycles: latency 1; R output beats per input beat, one a cycle without back-pressure (an input
// beat every R cycles).  Preconditions: none (R >= 1).
module spvit_split #(
    parameter int L      = 2,   // lanes per output beat
    parameter int R      = 2,   // output beats per input beat
    parameter int W      = 8,   // bits per lane
    parameter int USER_W = 2    // tuser bits (token kind)
) (
    input  logic                clk,
    input  logic                rst_n,
    input  logic [R*L*W-1:0]    s_axis_tdata,
    input  logic                s_axis_tvalid,
    output logic                s_axis_tready,
    input  logic                s_axis_tlast,
    input  logic [USER_W-1:0]   s_axis_tuser,
    output logic [L*W-1:0]      m_axis_tdata,
    output logic                m_axis_tvalid,
    input  logic                m_axis_tready,
    output logic                m_axis_tlast,
    output logic [USER_W-1:0]   m_axis_tuser
);
  localparam int SW = L * W;               // bits per output beat
  localparam int C_W = (R > 1) ? $clog2(R) : 1;
  localparam logic [C_W-1:0] C_LAST = C_W'(R - 1);

  logic [R*SW-1:0] sreg;                   // remaining slices of the held input beat
  logic [C_W-1:0] cnt;                     // index of the slice on the output
  logic last_q;                            // the held input beat had tlast
  logic at_end, fire_in, fire_out;

  assign at_end = (cnt == C_LAST);
  assign s_axis_tready = !m_axis_tvalid || (m_axis_tready && at_end);
  assign fire_in = s_axis_tvalid && s_axis_tready;
  assign fire_out = m_axis_tvalid && m_axis_tready;
  assign m_axis_tdata = sreg[SW-1:0];
  assign m_axis_tlast = last_q && at_end;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      m_axis_tvalid <= 1'b0;
      cnt <= '0;
    end else if (fire_in) begin
      m_axis_tvalid <= 1'b1;
      cnt <= '0;
    end else if (fire_out) begin
      m_axis_tvalid <= !at_end;
      cnt <= at_end ? '0 : cnt + 1'b1;
    end
  end

  always_ff @(posedge clk) begin
    if (fire_in) begin
      sreg <= s_axis_tdata;
      last_q <= s_axis_tlast;
      m_axis_tuser <= s_axis_tuser;
    end else if (fire_out) begin
      sreg <= sreg >> SW;
    end
  end
endmodule
