// spvit_saturate: clamp a two's-complement value to a narrower (or equal) format (AP_SAT).
//
// intops.saturate: y = min(max(x, min_int), max_int) of the output format.  Combinational.
// Signed output range [-2^(OUT_W-1), 2^(OUT_W-1)-1]; unsigned output range [0, 2^OUT_W-1].
module spvit_saturate #(
    parameter int IN_W       = 33,   // input width, two's complement
    parameter int OUT_W      = 8,    // output width
    parameter bit OUT_SIGNED = 1'b1  // 1: signed output, 0: unsigned output (negatives -> 0)
) (
    input  logic [IN_W-1:0]  x,      // signed value
    output logic [OUT_W-1:0] y
);
  if (OUT_SIGNED) begin : g_signed
    if (IN_W <= OUT_W) begin : g_fits
      assign y = OUT_W'($signed(x));
    end else begin : g_clamp
      // In range iff the bits above the output's sign bit all equal the input's sign bit.
      logic in_range;
      assign in_range = (x[IN_W-1:OUT_W-1] == {(IN_W - OUT_W + 1){x[IN_W-1]}});
      assign y = in_range ? x[OUT_W-1:0] : {x[IN_W-1], {(OUT_W - 1){~x[IN_W-1]}}};
    end
  end else begin : g_unsigned
    if (IN_W - 1 <= OUT_W) begin : g_fits
      assign y = x[IN_W-1] ? '0 : OUT_W'(x[IN_W-2:0]);
    end else begin : g_clamp
      logic too_big;
      assign too_big = |x[IN_W-2:OUT_W];
      assign y = x[IN_W-1] ? '0 : (too_big ? '1 : x[OUT_W-1:0]);
    end
  end
endmodule
