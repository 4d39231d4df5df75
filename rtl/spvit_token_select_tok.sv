// spvit_token_select_tok: spvit_token_select on token streams (rtl/DATAFLOW.md "Token streams"),
// the threshold a parameter of the stage.
//
//   keep_j = (sum_h w_jh * delta_jh >= TAU)                       (intops.keep_decision)
//   pkg_c  = RNE(sum_pruned p_j x_jc / sum_pruned p_j)  (sum p > 0), RNE(sum_pruned x_jc / n_pruned)
//            (sum p == 0, n_pruned > 0), 0 (nothing pruned)    (intops.int_package_token)
//
// Input frame (s_axis): one token a beat, C lanes of X_W bits (signed), tuser = kind (0 class,
// 1 patch, 2 package), tlast on the frame's last token: the class token, the live patch tokens,
// the package tokens of earlier stages (any order, at most 1 + N_MAX + PKG_MAX tokens).
// s_axis_sel: one beat {p, delta[H], w[H]} per patch token, in patch-token order (the kernel's
// layout: w_h at [h*W_W +: W_W], delta_h at [H*W_W + h*D_W +: D_W], p at [H*(W_W+D_W) +: P_W]).
// Output frame (m_axis, same format): every input token except the pruned patch tokens, in input
// order, then the new package token (kind 2, tlast).  n_kept: kept patch tokens of the last frame
// (the kernel's status output).
// The token is held in an input register and fed to spvit_token_select in C/LANES beats of
// LANES channels (tuser on every beat, tlast on the frame's last beat); the kernel's output beats
// are gathered into the output register, whose tuser / tlast are those of the token's last beat.
// Cycles per frame of T tokens of which K are emitted before the package token, B = C/LANES,
// without stalls: the kernel's  T*B + max(K*B + (T - K) + B, B*(ceil(X_W/DIV_STEPS) + 1) + 2) + 1
// (the input register is reloaded in the cycle a token's last beat goes in; a gathered output
// token leaves while the next one's first beat is written); frames back to back take the sum of
// these plus 2 (input and output register) from the first input beat to the last output beat
// (checked by rtl_sim/tb_token_select_tok.py).
// Preconditions: those of spvit_token_select (LANES divides C, at most N_MAX patch and PKG_MAX
// package tokens a frame, the selector beats match the patch tokens); TAU fits Z_W bits signed.
module spvit_token_select_tok #(
    parameter int C         = 64,          // channels per token
    parameter int LANES     = 8,           // channels per kernel beat (C % LANES == 0)
    parameter int X_W       = 16,          // token value width (residual stream, signed)
    parameter int N_MAX     = 16,          // most patch tokens in a frame
    parameter int PKG_MAX   = 3,           // most earlier package tokens in a frame
    parameter int H         = 4,           // heads
    parameter int W_W       = 8,           // head weight width (unsigned)
    parameter int D_W       = 8,           // logit difference width (signed)
    parameter int Z_W       = 18,          // keep_decision_bits(W, D, H)
    parameter int P_W       = 8,           // keep probability width (unsigned)
    parameter int DIV_STEPS = 2,           // divider quotient bits per cycle
    parameter int TAU       = 0            // keep threshold of the stage (signed, fits Z_W bits)
) (
    input  logic                         clk,
    input  logic                         rst_n,
    // tokens
    input  logic [C*X_W-1:0]             s_axis_tdata,
    input  logic                         s_axis_tvalid,
    output logic                         s_axis_tready,
    input  logic                         s_axis_tlast,      // last token of the frame
    input  logic [1:0]                   s_axis_tuser,      // kind: 0 class, 1 patch, 2 package
    // selector outputs, one beat per patch token
    input  logic [P_W+H*(D_W+W_W)-1:0]   s_axis_sel_tdata,  // {p, delta[H], w[H]}
    input  logic                         s_axis_sel_tvalid,
    output logic                         s_axis_sel_tready,
    // tokens out
    output logic [C*X_W-1:0]             m_axis_tdata,
    output logic                         m_axis_tvalid,
    input  logic                         m_axis_tready,
    output logic                         m_axis_tlast,
    output logic [1:0]                   m_axis_tuser,
    // status
    output logic [$clog2(N_MAX+1)-1:0]   n_kept             // kept patch tokens, last frame
);
  localparam int BPT = C / LANES;                         // kernel beats per token
  localparam int B_W = (BPT > 1) ? $clog2(BPT) : 1;
  localparam logic [Z_W-1:0] TAU_Z = Z_W'(TAU);

  // ---- input register, LANES channels a beat into the kernel ---------------------------------------
  logic [C*X_W-1:0] in_buf;
  logic in_full, in_last;
  logic [1:0] in_user;
  logic [B_W-1:0] bi;
  logic k_s_tready, k_s_fire, k_s_end, s_fire;

  // the next token is taken in the cycle the last channel group of this one goes in
  assign s_axis_tready = (!in_full || (k_s_tready && k_s_end));
  assign s_fire = s_axis_tvalid && s_axis_tready;
  assign k_s_fire = in_full && k_s_tready;
  assign k_s_end = (bi == B_W'(BPT - 1));

  always_ff @(posedge clk) begin
    if (s_fire) begin
      in_buf <= s_axis_tdata;
      in_last <= s_axis_tlast;
      in_user <= s_axis_tuser;
    end
  end

  // ---- the kernel ----------------------------------------------------------------------------------
  logic [LANES*X_W-1:0] k_m_tdata;
  logic k_m_tvalid, k_m_tready, k_m_tlast, k_m_fire, k_m_end;
  logic [1:0] k_m_tuser;

  spvit_token_select #(
      .C(C),
      .LANES(LANES),
      .X_W(X_W),
      .N_MAX(N_MAX),
      .PKG_MAX(PKG_MAX),
      .H(H),
      .W_W(W_W),
      .D_W(D_W),
      .Z_W(Z_W),
      .P_W(P_W),
      .DIV_STEPS(DIV_STEPS)
  ) u_sel (
      .clk(clk),
      .rst_n(rst_n),
      .tau(TAU_Z),
      .s_axis_tdata(in_buf[bi*LANES*X_W+:LANES*X_W]),
      .s_axis_tvalid(in_full),
      .s_axis_tready(k_s_tready),
      .s_axis_tlast(in_last && k_s_end),
      .s_axis_tuser(in_user),
      .s_axis_sel_tdata(s_axis_sel_tdata),
      .s_axis_sel_tvalid(s_axis_sel_tvalid),
      .s_axis_sel_tready(s_axis_sel_tready),
      .m_axis_tdata(k_m_tdata),
      .m_axis_tvalid(k_m_tvalid),
      .m_axis_tready(k_m_tready),
      .m_axis_tlast(k_m_tlast),
      .m_axis_tuser(k_m_tuser),
      .n_kept(n_kept)
  );

  // ---- gather a token's output beats ---------------------------------------------------------------
  logic [B_W-1:0] bo;
  assign k_m_tready = !m_axis_tvalid || m_axis_tready;  // a leaving token frees the register
  assign k_m_fire = k_m_tvalid && k_m_tready;
  assign k_m_end = (bo == B_W'(BPT - 1));

  always_ff @(posedge clk) begin
    if (k_m_fire) begin
      m_axis_tdata[bo*LANES*X_W+:LANES*X_W] <= k_m_tdata;
      if (k_m_end) begin
        m_axis_tlast <= k_m_tlast;
        m_axis_tuser <= k_m_tuser;
      end
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      in_full <= 1'b0;
      bi <= '0;
      bo <= '0;
      m_axis_tvalid <= 1'b0;
    end else begin
      if (k_s_fire) begin
        bi <= k_s_end ? '0 : bi + 1'b1;
        if (k_s_end) begin
          in_full <= 1'b0;
        end
      end
      if (s_fire) begin
        in_full <= 1'b1;                                  // after the clear: reloaded
      end
      if (m_axis_tvalid && m_axis_tready) begin
        m_axis_tvalid <= 1'b0;
      end
      if (k_m_fire) begin
        bo <= k_m_end ? '0 : bo + 1'b1;
        if (k_m_end) begin
          m_axis_tvalid <= 1'b1;
        end
      end
    end
  end
endmodule
