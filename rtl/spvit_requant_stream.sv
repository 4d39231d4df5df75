// spvit_requant_stream: LANES requantisers (spvit_requant) behind one register stage, on a
// valid/ready stream.  Lane i occupies bits [i*W +: W] of tdata; tlast is passed through.
module spvit_requant_stream #(
    parameter int LANES      = 4,     // values per beat
    parameter int IN_W       = 32,    // input width per lane
    parameter bit IN_SIGNED  = 1'b1,  // input two's complement (else unsigned)
    parameter int SHIFT      = 8,     // right shift (<= 0: left shift)
    parameter int OUT_W      = 8,     // output width per lane
    parameter bit OUT_SIGNED = 1'b1   // output signed (else unsigned)
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
  logic [LANES*OUT_W-1:0] y;

  for (genvar i = 0; i < LANES; i++) begin : g_lane
    spvit_requant #(
        .IN_W(IN_W),
        .IN_SIGNED(IN_SIGNED),
        .SHIFT(SHIFT),
        .OUT_W(OUT_W),
        .OUT_SIGNED(OUT_SIGNED)
    ) u_rq (
        .x(s_axis_tdata[i*IN_W+:IN_W]),
        .y(y[i*OUT_W+:OUT_W])
    );
  end

  assign s_axis_tready = !m_axis_tvalid || m_axis_tready;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      m_axis_tvalid <= 1'b0;
    end else if (s_axis_tready) begin
      m_axis_tvalid <= s_axis_tvalid;
    end
  end

  always_ff @(posedge clk) begin
    if (s_axis_tready && s_axis_tvalid) begin
      m_axis_tdata <= y;
      m_axis_tlast <= s_axis_tlast;
    end
  end
endmodule
