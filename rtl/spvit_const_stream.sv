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
    parameter     INIT_FILE = "const.hex"    // $readmemh file: DEPTH*C lines, entry-major
) (
    input  logic           clk,
    input  logic           rst_n,
    output logic [C*W-1:0] m_axis_tdata,
    output logic           m_axis_tvalid,
    input  logic           m_axis_tready
);
  localparam int A_W = $clog2(DEPTH * C);
  localparam logic [A_W-1:0] BASE_LAST = A_W'((DEPTH - 1) * C);

  logic [W-1:0] rom[DEPTH*C];
  logic [A_W-1:0] base;            // ROM address of lane 0 of the next entry to load
  logic load;

  initial begin
    $readmemh(INIT_FILE, rom);
  end

  assign load = !m_axis_tvalid || m_axis_tready;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      base <= '0;
      m_axis_tvalid <= 1'b0;
    end else if (load) begin
      base <= (base == BASE_LAST) ? '0 : base + A_W'(C);
      m_axis_tvalid <= 1'b1;
    end
  end

  always_ff @(posedge clk) begin
    if (load) begin
      for (int i = 0; i < C; i++) m_axis_tdata[i*W+:W] <= rom[base+A_W'(i)];
    end
  end
endmodule
