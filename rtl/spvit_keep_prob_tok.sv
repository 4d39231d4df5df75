// spvit_keep_prob_tok: spvit_keep_prob on a per-token stream, with the token kind carried.
//
//   p_j = sat_out( RNE(sum_h w_h sigma(delta_h) * 2^UP / sum_h w_h) )   (intops.int_keep_prob;
//         equal weights when sum w = 0 — the kernel's header has the algorithm)
//
// Input: one beat a token, s_axis_tdata = {delta[H], w[H]} (the kernel's layout: lane h of w at
// [h*W_W +: W_W], unsigned; lane h of delta at [H*W_W + h*D_W +: D_W], signed), tuser (USER_W
// bits, the token kind) and tlast (last token of the frame).  Output: p (OUT_W bits, unsigned),
// one beat a token, with the token's tuser and tlast.
// The beat goes straight into spvit_keep_prob (tlast through the kernel); tuser waits in an
// 8-entry side FIFO (pushed when a beat is accepted, popped when its p leaves), which also bounds
// the tokens in flight (the input is held off while it is full).
// Cycles: the kernel's, one token every D = ceil(Q_W/DIV_STEPS) + 1 cycles at full rate
// (Q_W = SIG_W + max(UP, 0)); T tokens back to back take T*D + 2 cycles from the first input beat
// to the last output beat (checked by rtl_sim/tb_tokwrap.py).
module spvit_keep_prob_tok #(
    parameter int H         = 4,              // heads
    parameter int W_W       = 8,              // head weight width (unsigned)
    parameter int D_W       = 8,              // logit difference width (signed); table 2^D_W entries
    parameter int SIG_W     = 8,              // sigmoid-table entry width (unsigned)
    parameter int UP        = 0,              // f_out - f_sig
    parameter int OUT_W     = 8,              // probability width (unsigned)
    parameter int DIV_STEPS = 3,              // divider quotient bits per cycle
    parameter     SIG_FILE  = "sigmoid.hex",  // $readmemh of intops.sigmoid_table(delta_fmt, sig_fmt)
    parameter int USER_W    = 2               // tuser width (token kind)
) (
    input  logic                   clk,
    input  logic                   rst_n,
    input  logic [H*(D_W+W_W)-1:0] s_axis_tdata,    // {delta[H], w[H]}
    input  logic                   s_axis_tvalid,
    output logic                   s_axis_tready,
    input  logic                   s_axis_tlast,    // last token of the frame
    input  logic [USER_W-1:0]      s_axis_tuser,    // token kind
    output logic [OUT_W-1:0]       m_axis_tdata,    // p
    output logic                   m_axis_tvalid,
    input  logic                   m_axis_tready,
    output logic                   m_axis_tlast,
    output logic [USER_W-1:0]      m_axis_tuser
);
  localparam int SD = 8;                                  // side FIFO depth
  localparam int SP_W = $clog2(SD);

  logic s_fire, m_fire, k_s_tready;

  // ---- side FIFO: tuser of the tokens in flight --------------------------------------------------
  logic [USER_W-1:0] side_mem[SD];
  logic [SP_W:0] side_wp, side_rp;                        // one wrap bit
  logic side_full;
  assign side_full = (side_wp[SP_W] != side_rp[SP_W]) && (side_wp[SP_W-1:0] == side_rp[SP_W-1:0]);
  assign s_axis_tready = k_s_tready && !side_full;
  assign s_fire = s_axis_tvalid && s_axis_tready;
  assign m_fire = m_axis_tvalid && m_axis_tready;
  assign m_axis_tuser = side_mem[side_rp[SP_W-1:0]];

  always_ff @(posedge clk) begin
    if (s_fire) begin
      side_mem[side_wp[SP_W-1:0]] <= s_axis_tuser;
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      side_wp <= '0;
      side_rp <= '0;
    end else begin
      if (s_fire) begin
        side_wp <= side_wp + 1'b1;
      end
      if (m_fire) begin
        side_rp <= side_rp + 1'b1;
      end
    end
  end

  logic k_s_tvalid;
  assign k_s_tvalid = s_axis_tvalid && !side_full;

  spvit_keep_prob #(
      .H(H),
      .W_W(W_W),
      .D_W(D_W),
      .SIG_W(SIG_W),
      .UP(UP),
      .OUT_W(OUT_W),
      .DIV_STEPS(DIV_STEPS),
      .SIG_FILE(SIG_FILE)
  ) u_kp (
      .clk(clk),
      .rst_n(rst_n),
      .s_axis_tdata(s_axis_tdata),
      .s_axis_tvalid(k_s_tvalid),
      .s_axis_tready(k_s_tready),
      .s_axis_tlast(s_axis_tlast),
      .m_axis_tdata(m_axis_tdata),
      .m_axis_tvalid(m_axis_tvalid),
      .m_axis_tready(m_axis_tready),
      .m_axis_tlast(m_axis_tlast)
  );
endmodule
