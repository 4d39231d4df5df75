// spvit_requant: requantise one value by a compile-time shift (intops.requantize).
//
//   y = saturate(round_shift(x, SHIFT), OUT)        one rounding (ties to even), then AP_SAT
//
// round_shift for SHIFT > 0: q = x >>> SHIFT (floor), r = x mod 2^SHIFT, h = 2^(SHIFT-1);
// y = q + (r > h || (r == h && q odd)).  In bits: up = x[SHIFT-1] & (x[SHIFT] | |x[SHIFT-2:0]).
// SHIFT <= 0 is an exact left shift.  Combinational.
module spvit_requant #(
    parameter int IN_W       = 32,    // input width
    parameter bit IN_SIGNED  = 1'b1,  // input is two's complement (else unsigned)
    parameter int SHIFT      = 8,     // right shift = frac_in - frac_out (may be <= 0)
    parameter int OUT_W      = 8,     // output width
    parameter bit OUT_SIGNED = 1'b1   // output format signed (else unsigned)
) (
    input  logic [IN_W-1:0]  x,
    output logic [OUT_W-1:0] y
);
  localparam int XW = IN_SIGNED ? IN_W : IN_W + 1;           // signed width of the input
  localparam int EW = (XW > SHIFT + 1) ? XW : SHIFT + 1;      // x sign-extended (SHIFT > 0)
  localparam int VW = (SHIFT > 0) ? EW : XW - SHIFT;          // width of the rounded value

  logic signed [XW-1:0] xs;
  logic signed [VW-1:0] v;

  if (IN_SIGNED) begin : g_in_signed
    assign xs = x;
  end else begin : g_in_unsigned
    assign xs = {1'b0, x};
  end

  if (SHIFT > 0) begin : g_right
    logic signed [EW-1:0] xe;
    logic signed [EW-1:0] q;
    logic [EW-1:0] below_half;                                // the SHIFT-1 bits under the half bit
    logic up;
    assign xe = EW'(xs);
    assign q = xe >>> SHIFT;
    assign below_half = xe & ({EW{1'b1}} >> (EW - SHIFT + 1));
    assign up = xe[SHIFT-1] & (xe[SHIFT] | (|below_half));
    assign v = q + EW'(up);
  end else if (SHIFT == 0) begin : g_none
    assign v = xs;
  end else begin : g_left
    assign v = {xs, {(-SHIFT){1'b0}}};
  end

  spvit_saturate #(
      .IN_W(VW),
      .OUT_W(OUT_W),
      .OUT_SIGNED(OUT_SIGNED)
  ) u_sat (
      .x(v),
      .y(y)
  );
endmodule
