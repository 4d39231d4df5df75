// spvit_fork: broadcast of one stream to N streams (every output gets every beat).
//
// One register stage: the accepted input beat sits in one data register shared by all outputs,
// with one "still owed" flag per output.  Output i shows the beat (m_axis_tvalid[i] = its flag,
// a register) until it takes it; the outputs may take the beat in different cycles.  The input
// beat retires, and the next one may enter in the same cycle, when every output has taken it
// (flags already clear, or cleared by a transfer in this cycle):
//   s_axis_tready = no output i with flag[i] && !m_axis_tready[i].
// So no output's tvalid depends (combinationally or otherwise) on another output's tready in
// the same cycle; s_axis_tready depends combinationally on the outputs' tready (AXI-Stream
// allows a ready that depends on ready).  All N outputs carry the same tdata/tlast/tuser.
//
// Cycles: latency 1 (a beat accepted at edge t is valid on every output after t); one beat a
// cycle when every output takes a beat every cycle; otherwise each beat leaves at the cycle the
// slowest output takes it.  Preconditions: none (N >= 1).
module spvit_fork #(
    parameter int W      = 8,   // tdata bits of one beat
    parameter int N      = 2,   // number of outputs
    parameter int USER_W = 2    // tuser bits (token kind)
) (
    input  logic                clk,
    input  logic                rst_n,
    input  logic [W-1:0]        s_axis_tdata,
    input  logic                s_axis_tvalid,
    output logic                s_axis_tready,
    input  logic                s_axis_tlast,
    input  logic [USER_W-1:0]   s_axis_tuser,
    output logic [N*W-1:0]      m_axis_tdata,    // output i: [i*W +: W]
    output logic [N-1:0]        m_axis_tvalid,   // output i: bit i
    input  logic [N-1:0]        m_axis_tready,   // output i: bit i
    output logic [N-1:0]        m_axis_tlast,    // output i: bit i
    output logic [N*USER_W-1:0] m_axis_tuser     // output i: [i*USER_W +: USER_W]
);
  logic [N-1:0] owed;            // output i has not taken the held beat yet
  logic [W-1:0] data_q;
  logic last_q;
  logic [USER_W-1:0] user_q;

  assign s_axis_tready = ~|(owed & ~m_axis_tready);
  assign m_axis_tvalid = owed;
  assign m_axis_tdata = {N{data_q}};
  assign m_axis_tlast = {N{last_q}};
  assign m_axis_tuser = {N{user_q}};

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      owed <= '0;
    end else if (s_axis_tvalid && s_axis_tready) begin
      owed <= '1;
    end else begin
      owed <= owed & ~m_axis_tready;
    end
  end

  always_ff @(posedge clk) begin
    if (s_axis_tvalid && s_axis_tready) begin
      data_q <= s_axis_tdata;
      last_q <= s_axis_tlast;
      user_q <= s_axis_tuser;
    end
  end
endmodule
