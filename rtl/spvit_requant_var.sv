// spvit_requant_var: requantise by a run-time shift (intops.requantize with a tensor shift, as
// LayerNorm's per-token shift R + k - f_n uses it).
//
//   y = saturate(round_shift(x, sh), OUT)    sh > 0: round half to even; sh <= 0: exact x << -sh
//
// sh must lie in [SH_MIN, SH_MAX]; the datapath is sized for that range.  Combinational.
module spvit_requant_var #(
    parameter int IN_W       = 41,    // input width (two's complement)
    parameter int SH_W       = 8,     // shift port width (two's complement)
    parameter int SH_MIN     = 0,     // smallest shift used (negative = left shift)
    parameter int SH_MAX     = 32,    // largest shift used
    parameter int OUT_W      = 16,    // output width
    parameter bit OUT_SIGNED = 1'b1   // output format signed (else unsigned)
) (
    input  logic [IN_W-1:0]  x,
    input  logic [SH_W-1:0]  sh,
    output logic [OUT_W-1:0] y
);
  localparam int LMAX = (SH_MIN < 0) ? -SH_MIN : 0;          // largest left shift
  localparam int RMAX = (SH_MAX > 0) ? SH_MAX : 0;           // largest right shift
  localparam int EW = (IN_W > RMAX + 1) ? IN_W : RMAX + 1;   // x sign-extended for right shifts
  localparam int VW0 = (EW > IN_W + LMAX) ? EW : IN_W + LMAX;
  localparam int VW = VW0 + 1;                               // rounded or left-shifted value

  logic signed [IN_W-1:0] xs;
  logic signed [SH_W-1:0] shs;
  logic signed [VW-1:0] v_right, v_left, v;
  logic right;

  assign xs = x;
  assign shs = sh;
  assign right = (shs > 0);

  if (SH_MAX > 0) begin : g_right
    logic signed [EW-1:0] xe, q;
    logic [EW-1:0] below_mask;
    logic [SH_W-1:0] s1;                                     // sh - 1 (>= 0 when right)
    logic half, sticky, up;
    assign xe = EW'(xs);
    assign s1 = sh - 1'b1;
    assign q = xe >>> sh;
    assign half = ((xe >> s1) & EW'(1)) != '0;
    assign below_mask = ~({EW{1'b1}} << s1);
    assign sticky = |(xe & below_mask);
    assign up = half & (q[0] | sticky);
    assign v_right = VW'(q) + VW'(up);
  end else begin : g_no_right
    assign v_right = '0;
  end

  if (SH_MIN <= 0) begin : g_left
    logic [SH_W-1:0] ls;                                     // -sh (>= 0 when left)
    assign ls = -sh;
    assign v_left = VW'(xs) <<< ls;
  end else begin : g_no_left
    assign v_left = '0;
  end

  assign v = right ? v_right : v_left;

  spvit_saturate #(
      .IN_W(VW),
      .OUT_W(OUT_W),
      .OUT_SIGNED(OUT_SIGNED)
  ) u_sat (
      .x(v),
      .y(y)
  );
endmodule
