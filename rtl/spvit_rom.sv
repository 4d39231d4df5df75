// spvit_rom: read-only table with a registered read port (block or distributed ROM).
//
// Contents come from a $readmemh file written by Python from the intops table builders
// (spvit_fpga.rtl.runner.write_memh): one DATA_W-bit hexadecimal word per line, DEPTH lines, entry i
// on line i.  The read is synchronous with an enable (data holds while en is low), the form
// Vivado maps to a block RAM with output enable.  addr must be < DEPTH.
module spvit_rom #(
    parameter int DEPTH     = 256,              // number of entries
    parameter int DATA_W    = 8,                // bits per entry
    parameter int ADDR_W    = $clog2(DEPTH),    // address width
    parameter     INIT_FILE = "table.hex"       // $readmemh file (absolute path or sim-relative)
) (
    input  logic              clk,
    input  logic              en,               // read enable: data <= mem[addr]
    input  logic [ADDR_W-1:0] addr,
    output logic [DATA_W-1:0] data
);
  logic [DATA_W-1:0] mem[DEPTH];

  initial begin
    $readmemh(INIT_FILE, mem);
  end

  always_ff @(posedge clk) begin
    if (en) begin
      data <= mem[addr];
    end
  end
endmodule
