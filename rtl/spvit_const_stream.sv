// spvit_const_stream: endless source of constant tokens from a ROM: entry 0, 1, ..., DEPTH-1,
// 0, 1, ... (e.g. the position embedding, one entry per patch token, as the residual stream of
// the patch-embedding GEMM unit, whose frames hold exactly DEPTH tokens).
//
// Entry e has C lanes of W bits (lane i at m_axis_tdata[i*W +: W]); INIT_FILE ($readmemh) holds
// DEPTH*C lines, one lane value a line, W-bit two's complement in hexadecimal, entry-major (line
// e*C + i = entry e, lane i).  The ROM is read by a registered read with enable straight into the
// output register (C W-bit reads of one entry per cycle; it maps to distributed ROM).  No
// tlast/tuser: the consumer counts DEPTH tokens a frame.
//
// Cycles: m_axis_tvalid rises at the first clock edge with rst_n high (entry 0 loaded) and stays
// 1; one token a cycle (the next entry is loaded in the cycle the current one is taken).
// Preconditions: DEPTH*C >= 2.
module spvit_const_stream #(
    parameter int C         = 4,             // lanes per token
    parameter int W         = 8,             // bits per lane
    parameter int DEPTH     = 4,             // entries (tokens) before the stream repeats
    parameter     INIT_FILE = "const.hex"    // $readmemh file: DEPTH lines of C*W bits (lane i at [i*W +: W])
) (
    input  logic           clk,
    input  logic           rst_n,
    output logic [C*W-1:0] m_axis_tdata,
    output logic           m_axis_tvalid,
    input  logic           m_axis_tready
);
  localparam int A_W = (DEPTH > 1) ? $clog2(DEPTH) : 1;
  localparam logic [A_W-1:0] LAST = A_W'(DEPTH - 1);

  // one C*W-bit word an entry: a single read port (a ROM of C*DEPTH lanes read C at a time would
  // need C read ports, which synthesis tools expand into registers and multiplexers)
  logic [C*W-1:0] rom[DEPTH];
  logic [A_W-1:0] addr;            // entry loaded next
  logic load;

  initial begin
    $readmemh(INIT_FILE, rom);
  end

  assign load = !m_axis_tvalid || m_axis_tready;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      addr <= '0;
      m_axis_tvalid <= 1'b0;
    end else if (load) begin
      addr <= (addr == LAST) ? '0 : addr + 1'b1;
      m_axis_tvalid <= 1'b1;
    end
  end

  always_ff @(posedge clk) begin
    if (load) m_axis_tdata <= rom[addr];
  end
endmodule
