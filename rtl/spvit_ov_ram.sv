// spvit_ov_ram: simple-dual-port RAM of the overlay engine's buffers (activation banks AM0..AM2,
// residual buffer XB, result RAM): one write port with lane enables, one read port whose data
// appears exactly two cycles after the read (a registered RAM read plus an output register, the
// block-RAM template Vivado and Yosys map to BRAM with its output register).
//
// A word is LANES lanes of LANE_W bits; lane i is wr_data[i*LANE_W +: LANE_W].  A write and a read
// of the same address in the same cycle return the old word (read-first).  Contents start at 0 in
// simulation (the engine writes every word before it reads it, except lanes it masks).
//
// Cycles: a read issued in cycle c (rd_en) gives rd_data in cycle c + 2; a write is visible to a
// read issued one cycle later.
module spvit_ov_ram #(
    parameter int LANES  = 8,       // lanes a word
    parameter int LANE_W = 8,       // bits a lane
    parameter int DEPTH  = 1024,    // words
    parameter int AW     = 10       // address width (2^AW >= DEPTH)
) (
    input  logic                    clk,
    // write port
    input  logic                    wr_en,
    input  logic [AW-1:0]           wr_addr,
    input  logic [LANES-1:0]        wr_be,    // lane enables
    input  logic [LANES*LANE_W-1:0] wr_data,
    // read port
    input  logic                    rd_en,
    input  logic [AW-1:0]           rd_addr,
    output logic [LANES*LANE_W-1:0] rd_data   // two cycles after rd_en
);
  localparam int IW = (DEPTH > 1) ? $clog2(DEPTH) : 1;
  logic [LANES*LANE_W-1:0] mem [DEPTH];
  logic [LANES*LANE_W-1:0] q;
  logic [IW-1:0] wa, ra;
  assign wa = wr_addr[IW-1:0];
  assign ra = rd_addr[IW-1:0];
  /* verilator lint_off UNUSEDSIGNAL */
  wire unused_hi = &{1'b0, wr_addr, rd_addr};
  /* verilator lint_on UNUSEDSIGNAL */

  initial begin
    for (int i = 0; i < DEPTH; i++) mem[i] = '0;
  end

  // one memory, one write process with per-lane enables (the byte-write-enable template)
  always_ff @(posedge clk) begin
    for (int i = 0; i < LANES; i++)
      if (wr_en && wr_be[i]) mem[wa][i*LANE_W +: LANE_W] <= wr_data[i*LANE_W +: LANE_W];
  end

  always_ff @(posedge clk) begin
    if (rd_en) q <= mem[ra];
    rd_data <= q;
  end
endmodule
