// spvit_ov_layernorm_rq: requantise by a run-time shift to a run-time output format, pipelined
// (intops.requantize with the LayerNorm's per-row shift R + k - f_norm, and with the
// instruction's out_shift / out format).
//
//   y = clamp( round_shift(x, sh), sat_lo, sat_hi )
//   round_shift: sh > 0: round half to even of x / 2^sh; sh <= 0: exact x * 2^-sh
//
// The value is padded with LPAD = max(0, -SH_MIN) zero bits below, so every shift is a right
// shift by s = sh + LPAD in [0, SH_MAX + LPAD].  The shift comes one cycle before its value: its
// masks are decoded then.  Stages (each ends in a register):
//   0. s, the one-hot mask of the half bit (bit s-1) and the mask of the bits below it (from sh)
//   1. q = (x << LPAD) >>> s (floor), half = |(x & half mask), sticky = |(x & below mask)
//   2. v = q + (half & (q odd | sticky))             (ties to even, as intops.round_shift)
//   3. y = clamp(v, sat_lo, sat_hi)                   (the format's range: AP_SAT)
// Latency 3: y is the result of the x presented 3 cycles earlier and the sh presented 4 cycles
// earlier (sh leads x by one cycle; x, sh from registers).
// sat_lo / sat_hi are the output format's bounds (signed, OUT_W + 1 bits so an unsigned OUT_W-bit
// maximum fits); they are instruction constants (the caller registers them at start).
// Preconditions: SH_MIN <= sh <= SH_MAX; sat_lo <= sat_hi.  No reset (data path only).
module spvit_ov_layernorm_rq #(
    parameter int IN_W   = 41,   // width of x (two's complement)
    parameter int SH_W   = 8,    // width of sh (two's complement)
    parameter int SH_MIN = 0,    // smallest shift used (negative: left shift)
    parameter int SH_MAX = 40,   // largest shift used
    parameter int OUT_W  = 16    // width of y (the value, two's complement or unsigned)
) (
    input  logic                   clk,
    input  logic [IN_W-1:0]        x,       // value (signed)
    input  logic [SH_W-1:0]        sh,      // shift (signed), one cycle before its x
    input  logic signed [OUT_W:0]  sat_lo,  // smallest output value
    input  logic signed [OUT_W:0]  sat_hi,  // largest output value
    output logic [OUT_W-1:0]       y        // requantised value of 3 cycles earlier
);
  localparam int LPAD = (SH_MIN < 0) ? -SH_MIN : 0;
  localparam int SMAX = (SH_MAX > 0 ? SH_MAX : 0) + LPAD;  // largest right shift
  localparam int S_W = $clog2(SMAX + 2);
  localparam int XW = IN_W + LPAD;                         // padded value
  localparam int EW0 = (XW > SMAX + 1) ? XW : SMAX + 1;
  localparam int EW = (EW0 > OUT_W + 1) ? EW0 + 1 : OUT_W + 2;  // rounded value (room for +1)

  // ---- stage 0: the shift and its masks (from sh, a cycle ahead of x) ----------------------------
  logic signed [EW-1:0] xe;
  logic [S_W-1:0] s, s_r;
  logic signed [SH_W:0] s_full;
  logic [EW-1:0] below_half, half_bit, below_r, half_r_mask;
  assign s_full = $signed({sh[SH_W-1], sh}) + (SH_W + 1)'(LPAD);
  assign s = S_W'(s_full);
  always_comb begin
    for (int i = 0; i < EW; i++) begin
      below_half[i] = (i + 1 < 32'(s));                   // bits below the half bit: s - 1 of them
      half_bit[i] = (i + 1 == 32'(s));
    end
  end
  always_ff @(posedge clk) begin
    s_r <= s;
    below_r <= below_half;
    half_r_mask <= half_bit;
  end

  // ---- stage 1: shift, half and sticky bits -----------------------------------------------------
  assign xe = EW'($signed(x)) <<< LPAD;
  logic signed [EW-1:0] q_r;
  logic half_r, sticky_r;
  always_ff @(posedge clk) begin
    q_r <= xe >>> s_r;
    half_r <= |(xe & half_r_mask);
    sticky_r <= |(xe & below_r);
  end

  // ---- stage 2: round half to even --------------------------------------------------------------
  logic signed [EW-1:0] v_r;
  always_ff @(posedge clk) begin
    v_r <= q_r + EW'({1'b0, half_r & (q_r[0] | sticky_r)});
  end

  // ---- stage 3: saturate to [sat_lo, sat_hi] ----------------------------------------------------
  logic signed [EW-1:0] lo_e, hi_e;
  assign lo_e = EW'(sat_lo);
  assign hi_e = EW'(sat_hi);
  always_ff @(posedge clk) begin
    if (v_r < lo_e) y <= OUT_W'(sat_lo);
    else if (v_r > hi_e) y <= OUT_W'(sat_hi);
    else y <= OUT_W'(v_r);
  end

  logic unused_s;
  assign unused_s = &{1'b0, s_full};
endmodule
