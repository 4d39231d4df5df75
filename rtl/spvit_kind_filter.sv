// spvit_kind_filter: passes the tokens of a token stream whose kind k (tuser) has KEEP_KINDS[k]
// set, in order; tlast sits on the last passed token of each input frame.
//
// A passed token is held back in a hold register until it is known whether it is the last
// passed token of its frame: the next passed token of the same frame releases it with tlast 0;
// the input frame's tlast (on a passed token: that token is held with "last known"; on a
// filtered token: the held token becomes "last known") releases it with tlast 1.  A held token
// whose tlast is known moves on by itself; the hold register then takes the next passed token
// in the same cycle.  A frame in which no token passes produces no output at all (no marker).
// Output register: m_axis_t* are register outputs.
//
//   s_axis_tready = output register free (empty or handing over) || hold register empty
//                   || the input token is filtered out
// (depends combinationally on m_axis_tready and on s_axis_tuser, not on tdata).
//
// Cycles: one input token a cycle while the output is not back-pressured; a passed token leaves
// one cycle after the next passed token of its frame, or after its frame's tlast, was accepted
// (plus one if it becomes "last known" only by a filtered tlast token).  Preconditions: frames
// end with tlast (an unfinished frame's last passed token waits in the hold register).
module spvit_kind_filter #(
    parameter int                      W          = 8,        // tdata bits of one token
    parameter int                      USER_W     = 2,        // tuser bits (token kind)
    parameter logic [(1<<USER_W)-1:0]  KEEP_KINDS = 4'b0010   // bit k set: kind k passes
) (
    input  logic              clk,
    input  logic              rst_n,
    input  logic [W-1:0]      s_axis_tdata,
    input  logic              s_axis_tvalid,
    output logic              s_axis_tready,
    input  logic              s_axis_tlast,
    input  logic [USER_W-1:0] s_axis_tuser,
    output logic [W-1:0]      m_axis_tdata,
    output logic              m_axis_tvalid,
    input  logic              m_axis_tready,
    output logic              m_axis_tlast,    // last passed token of its input frame
    output logic [USER_W-1:0] m_axis_tuser
);
  logic h_valid, h_done;            // hold register full; its token is its frame's last passed
  logic [W-1:0] h_data;
  logic [USER_W-1:0] h_user;
  logic keep, fire, take_in, free, move;

  assign keep = KEEP_KINDS[s_axis_tuser];
  assign free = !m_axis_tvalid || m_axis_tready;
  assign s_axis_tready = free || !h_valid || !keep;
  assign fire = s_axis_tvalid && s_axis_tready;
  assign take_in = fire && keep;                        // the input token enters the hold register
  assign move = h_valid && free && (h_done || take_in);  // the held token goes to the output

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      h_valid <= 1'b0;
      h_done <= 1'b0;
      m_axis_tvalid <= 1'b0;
    end else begin
      if (take_in) begin
        h_valid <= 1'b1;
        h_done <= s_axis_tlast;
      end else if (move) begin
        h_valid <= 1'b0;
      end else if (fire && s_axis_tlast) begin
        h_done <= 1'b1;                                   // filtered tlast ends the held token's frame
      end
      if (move) m_axis_tvalid <= 1'b1;
      else if (m_axis_tready) m_axis_tvalid <= 1'b0;
    end
  end

  always_ff @(posedge clk) begin
    if (take_in) begin
      h_data <= s_axis_tdata;
      h_user <= s_axis_tuser;
    end
    if (move) begin
      m_axis_tdata <= h_data;
      m_axis_tuser <= h_user;
      m_axis_tlast <= h_done;
    end
  end
endmodule
