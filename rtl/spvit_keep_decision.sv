// spvit_keep_decision: the deterministic keep rule of the token selector
// (intops.keep_decision): keep = (z >= tau), z = sum_h w_h * delta_h.
//
// w_h: unsigned head weights (W_W bits, frac f_w), delta_h = s_keep,h - s_prune,h: signed
// (D_W bits, frac f_d); tau: signed at frac f_w + f_d (a calibrated per-stage constant).
// Z_W = intops.keep_decision_bits (exact; 20 bits for H = 12, 8-bit operands).  Ties keep.
// Combinational.  Lane h of w at [h*W_W +: W_W], of delta at [h*D_W +: D_W].
module spvit_keep_decision #(
    parameter int H   = 12,   // heads
    parameter int W_W = 8,    // head weight width (unsigned)
    parameter int D_W = 8,    // logit difference width (signed)
    parameter int Z_W = 20    // width of z and tau (keep_decision_bits)
) (
    input  logic [H*W_W-1:0] w,
    input  logic [H*D_W-1:0] delta,
    input  logic [Z_W-1:0]   tau,
    output logic [Z_W-1:0]   z,
    output logic             keep
);
  always_comb begin : p_dot
    logic signed [Z_W-1:0] acc;
    acc = '0;
    for (int h = 0; h < H; h++) begin
      acc = acc + Z_W'($signed({1'b0, w[h*W_W+:W_W]})) * Z_W'($signed(delta[h*D_W+:D_W]));
    end
    z = acc;
  end
  assign keep = ($signed(z) >= $signed(tau));
endmodule
