// spvit_fifo: stream FIFO, one beat a cycle in and out, registered output, block-RAM storage.
//
// Storage: a simple dual-port RAM of DEPTH words of {tuser, tlast, tdata} (one write port, one
// read port with a registered read and a read enable: the pattern Vivado maps to block RAM for
// large DEPTH * W, e.g. 66 tokens x 1024 bits, and to distributed RAM for small ones).  The
// RAM's read register is the output register: m_axis_t* are register outputs.  A word is read
// whenever the RAM holds one and the output register is empty or handing its beat over in this
// cycle.  s_axis_tready is a register (1 while the RAM has a free word after this cycle's write
// and read), so nothing combinational passes from the output side to the input side; the
// read and write addresses of one cycle never coincide.
//
// Capacity: DEPTH beats in the RAM plus one in the output register (DEPTH + 1 in all; with the
// output stalled, exactly DEPTH + 1 beats are accepted).  Latency 2: a beat accepted at clock
// edge t (empty FIFO) is read into the output register at edge t + 1 and valid from then on.
// Throughput: one beat a cycle in and out for any DEPTH >= 2 (steady state: one word in the
// RAM, one in the output register).  s_axis_tready is 0 during reset and rises after the first
// edge with rst_n high.
// Preconditions: DEPTH >= 2.
module spvit_fifo #(
    parameter int W      = 8,   // tdata bits of one beat
    parameter int DEPTH  = 4,   // RAM words (>= 2); the FIFO holds DEPTH + 1 beats
    parameter int USER_W = 2    // tuser bits (token kind)
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
    output logic [USER_W-1:0] m_axis_tuser
);
  localparam int WORD_W = W + 1 + USER_W;
  localparam int A_W = $clog2(DEPTH);
  localparam int N_W = $clog2(DEPTH + 1);
  localparam logic [A_W-1:0] A_LAST = A_W'(DEPTH - 1);
  localparam logic [N_W-1:0] N_FULL = N_W'(DEPTH);

  logic [WORD_W-1:0] mem[DEPTH];
  logic [WORD_W-1:0] q;              // RAM read register = output register
  logic [A_W-1:0] wr_ptr, rd_ptr;
  logic [N_W-1:0] count, count_next; // words in the RAM (not yet read out)
  logic wr, rd;

  assign wr = s_axis_tvalid && s_axis_tready;
  assign rd = (count != '0) && (!m_axis_tvalid || m_axis_tready);
  assign count_next = count + N_W'(wr) - N_W'(rd);
  assign {m_axis_tuser, m_axis_tlast, m_axis_tdata} = q;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      wr_ptr <= '0;
      rd_ptr <= '0;
      count <= '0;
      s_axis_tready <= 1'b0;
      m_axis_tvalid <= 1'b0;
    end else begin
      if (wr) wr_ptr <= (wr_ptr == A_LAST) ? '0 : wr_ptr + 1'b1;
      if (rd) rd_ptr <= (rd_ptr == A_LAST) ? '0 : rd_ptr + 1'b1;
      count <= count_next;
      s_axis_tready <= (count_next != N_FULL);
      if (rd) m_axis_tvalid <= 1'b1;
      else if (m_axis_tready) m_axis_tvalid <= 1'b0;
    end
  end

  // RAM: write port and registered read port with enable (no reset: block-RAM inference)
  always_ff @(posedge clk) begin
    if (wr) mem[wr_ptr] <= {s_axis_tuser, s_axis_tlast, s_axis_tdata};
  end

  always_ff @(posedge clk) begin
    if (rd) q <= mem[rd_ptr];
  end
endmodule
