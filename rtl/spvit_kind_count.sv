// spvit_kind_count: passes a token stream through unchanged and reports, once per frame, how many
// of its tokens are of kind KIND (the kept patch tokens after a selector stage).
//
// s_axis -> m_axis is a wire (same tdata/tuser/tlast, tready back); the count of the frame
// leaves on m_axis_cnt (one beat, CNT_W bits, saturating at 2^CNT_W - 1) after the frame's tlast
// token has passed.  While a count waits for m_axis_cnt_tready the next frame's first token is held
// (tready low), so counts and frames stay in step: tvalid never depends on any tready.  Zero latency;
// one token a cycle except one bubble after each frame (the count's cycle), i.e. a stream of
// frames with T tokens in total takes T + frames cycles when nothing stalls.
module spvit_kind_count #(
    parameter int W      = 64,             // tdata width
    parameter int USER_W = 2,              // tuser width (token kind)
    parameter int KIND   = 1,              // kind counted (1 = patch)
    parameter int CNT_W  = 8               // count width
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
    output logic              m_axis_tlast,
    output logic [USER_W-1:0] m_axis_tuser,
    output logic [CNT_W-1:0]  m_axis_cnt_tdata,
    output logic              m_axis_cnt_tvalid,
    input  logic              m_axis_cnt_tready
);
  logic [CNT_W-1:0] count;      // tokens of KIND so far in the current frame
  logic [CNT_W-1:0] next_count;
  logic             fire;

  assign m_axis_tdata  = s_axis_tdata;
  assign m_axis_tlast  = s_axis_tlast;
  assign m_axis_tuser  = s_axis_tuser;
  assign m_axis_tvalid = s_axis_tvalid && !m_axis_cnt_tvalid;
  assign s_axis_tready = m_axis_tready && !m_axis_cnt_tvalid;
  assign fire = s_axis_tvalid && s_axis_tready;
  assign next_count = (s_axis_tuser == USER_W'(KIND) && count != {CNT_W{1'b1}}) ? count + 1'b1 : count;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      count <= '0;
      m_axis_cnt_tvalid <= 1'b0;
      m_axis_cnt_tdata <= '0;
    end else begin
      if (m_axis_cnt_tvalid && m_axis_cnt_tready) m_axis_cnt_tvalid <= 1'b0;
      if (fire) begin
        if (s_axis_tlast) begin
          m_axis_cnt_tdata <= next_count;
          m_axis_cnt_tvalid <= 1'b1;
          count <= '0;
        end else begin
          count <= next_count;
        end
      end
    end
  end
endmodule
