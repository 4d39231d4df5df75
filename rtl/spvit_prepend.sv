// spvit_prepend: puts a constant token in front of every frame of a token stream (the class
// token in front of the patch tokens).
//
// The constant token has C lanes of W bits (lane i at [i*W +: W]) read by $readmemh from
// INIT_FILE: one lane value a line, C lines, W-bit two's complement in hexadecimal
// (spvit_fpga.rtl.runner.write_memh).  It leaves with tuser = KIND and tlast = 0 as soon as the first
// token of a frame is valid on the input (it is not sent before that, so nothing follows the
// last frame); then the frame's tokens pass unchanged (tdata, tlast, tuser); the input's tlast
// arms the constant token for the next frame.  One output register (m_axis_t* are register
// outputs).
//
// Cycles: latency 1; a frame of T tokens leaves in T + 1 cycles without stalls (one token a
// cycle; the input waits one cycle at each frame start).  Preconditions: frames end with tlast.
module spvit_prepend #(
    parameter int C         = 4,              // lanes per token
    parameter int W         = 8,              // bits per lane
    parameter     INIT_FILE = "prepend.hex",  // $readmemh file: C lines, lane 0 first
    parameter int KIND      = 0,              // tuser of the constant token
    parameter int USER_W    = 2               // tuser bits (token kind)
) (
    input  logic              clk,
    input  logic              rst_n,
    input  logic [C*W-1:0]    s_axis_tdata,
    input  logic              s_axis_tvalid,
    output logic              s_axis_tready,
    input  logic              s_axis_tlast,
    input  logic [USER_W-1:0] s_axis_tuser,
    output logic [C*W-1:0]    m_axis_tdata,
    output logic              m_axis_tvalid,
    input  logic              m_axis_tready,
    output logic              m_axis_tlast,
    output logic [USER_W-1:0] m_axis_tuser
);
  logic [W-1:0] rom[C];
  logic [C*W-1:0] const_tok;
  logic head;                      // the next output is the constant token of a new frame
  logic free, emit_const, fire;

  initial begin
    $readmemh(INIT_FILE, rom);
  end

  always_comb begin : p_const
    for (int i = 0; i < C; i++) const_tok[i*W+:W] = rom[i];
  end

  assign free = !m_axis_tvalid || m_axis_tready;
  assign emit_const = head && s_axis_tvalid && free;
  assign s_axis_tready = !head && free;
  assign fire = s_axis_tvalid && s_axis_tready;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      head <= 1'b1;
      m_axis_tvalid <= 1'b0;
    end else begin
      if (emit_const) head <= 1'b0;
      else if (fire && s_axis_tlast) head <= 1'b1;
      if (free) m_axis_tvalid <= emit_const || fire;
    end
  end

  always_ff @(posedge clk) begin
    if (emit_const) begin
      m_axis_tdata <= const_tok;
      m_axis_tlast <= 1'b0;
      m_axis_tuser <= USER_W'(KIND);
    end else if (fire) begin
      m_axis_tdata <= s_axis_tdata;
      m_axis_tlast <= s_axis_tlast;
      m_axis_tuser <= s_axis_tuser;
    end
  end
endmodule
