// spvit_join2: two streams beat by beat into one, behind one register stage.
//
// Beat j of the output is {b_j, a_j}: tdata[A_W-1:0] = a's tdata, tdata[A_W+B_W-1:A_W] = b's
// tdata; tlast and tuser are a's (b has neither).  An a beat and a b beat are taken together, in
// the same cycle, when both are valid and the output register is empty or handing its beat over:
//   s_axis_a_tready = s_axis_b_tvalid && (!m_axis_tvalid || m_axis_tready), and symmetrically
// (a ready that depends on the joined stream's valid, allowed by AXI-Stream).
//
// Cycles: latency 1; one beat a cycle when both inputs have one and the output takes it.
// Preconditions: none (the two streams carry the same number of beats).
module spvit_join2 #(
    parameter int A_W    = 8,   // tdata bits of stream a (low part of the output)
    parameter int B_W    = 8,   // tdata bits of stream b (high part of the output)
    parameter int USER_W = 2    // tuser bits (token kind, from a)
) (
    input  logic               clk,
    input  logic               rst_n,
    input  logic [A_W-1:0]     s_axis_a_tdata,
    input  logic               s_axis_a_tvalid,
    output logic               s_axis_a_tready,
    input  logic               s_axis_a_tlast,
    input  logic [USER_W-1:0]  s_axis_a_tuser,
    input  logic [B_W-1:0]     s_axis_b_tdata,
    input  logic               s_axis_b_tvalid,
    output logic               s_axis_b_tready,
    output logic [A_W+B_W-1:0] m_axis_tdata,    // {b, a}
    output logic               m_axis_tvalid,
    input  logic               m_axis_tready,
    output logic               m_axis_tlast,    // a's tlast
    output logic [USER_W-1:0]  m_axis_tuser     // a's tuser
);
  logic free, take;

  assign free = !m_axis_tvalid || m_axis_tready;
  assign take = free && s_axis_a_tvalid && s_axis_b_tvalid;
  assign s_axis_a_tready = free && s_axis_b_tvalid;
  assign s_axis_b_tready = free && s_axis_a_tvalid;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      m_axis_tvalid <= 1'b0;
    end else if (free) begin
      m_axis_tvalid <= s_axis_a_tvalid && s_axis_b_tvalid;
    end
  end

  always_ff @(posedge clk) begin
    if (take) begin
      m_axis_tdata <= {s_axis_b_tdata, s_axis_a_tdata};
      m_axis_tlast <= s_axis_a_tlast;
      m_axis_tuser <= s_axis_a_tuser;
    end
  end
endmodule
