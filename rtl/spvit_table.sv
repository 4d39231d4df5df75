// spvit_table: element-wise lookup table on a stream (intops.table_lookup, int_gelu,
// int_sigmoid): y = T[x - min_int].  For a signed input the index is x with its sign bit
// inverted; for an unsigned input the index is x.  One ROM copy per lane, latency 1 cycle,
// full throughput; lane i occupies bits [i*W +: W] of tdata; tlast is passed through.
module spvit_table #(
    parameter int LANES     = 1,          // lookups per beat (one ROM each)
    parameter int IN_W      = 8,          // input width; the table has 2^IN_W entries
    parameter bit IN_SIGNED = 1'b1,       // input two's complement (index = x ^ 2^(IN_W-1))
    parameter int OUT_W     = 8,          // entry width
    parameter     INIT_FILE = "table.hex" // $readmemh contents (entry i for input min_int + i)
) (
    input  logic                   clk,
    input  logic                   rst_n,
    input  logic [LANES*IN_W-1:0]  s_axis_tdata,
    input  logic                   s_axis_tvalid,
    output logic                   s_axis_tready,
    input  logic                   s_axis_tlast,
    output logic [LANES*OUT_W-1:0] m_axis_tdata,
    output logic                   m_axis_tvalid,
    input  logic                   m_axis_tready,
    output logic                   m_axis_tlast
);
  logic advance;  // the output register takes a new value (or empties) this cycle

  assign advance = !m_axis_tvalid || m_axis_tready;
  assign s_axis_tready = advance;

  for (genvar i = 0; i < LANES; i++) begin : g_lane
    logic [IN_W-1:0] index;
    if (IN_SIGNED) begin : g_signed
      assign index = s_axis_tdata[i*IN_W+:IN_W] ^ {1'b1, {(IN_W - 1) {1'b0}}};
    end else begin : g_unsigned
      assign index = s_axis_tdata[i*IN_W+:IN_W];
    end
    spvit_rom #(
        .DEPTH(1 << IN_W),
        .DATA_W(OUT_W),
        .ADDR_W(IN_W),
        .INIT_FILE(INIT_FILE)
    ) u_rom (
        .clk(clk),
        .en(advance && s_axis_tvalid),
        .addr(index),
        .data(m_axis_tdata[i*OUT_W+:OUT_W])
    );
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      m_axis_tvalid <= 1'b0;
    end else if (advance) begin
      m_axis_tvalid <= s_axis_tvalid;
    end
  end

  always_ff @(posedge clk) begin
    if (advance && s_axis_tvalid) begin
      m_axis_tlast <= s_axis_tlast;
    end
  end
endmodule
