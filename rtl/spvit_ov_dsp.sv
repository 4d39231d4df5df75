// spvit_ov_dsp: one multiply of the overlay GEMM array, written so that synthesis maps it to
// one DSP slice with its A, B, M and P registers (DSP48E2 27x18, DSP48E1 25x18).
//
// PACK = 2 (two int8-class MACs a DSP48E2): the A operand is the packed weight pair of output
// lanes 2p (w1) and 2p+1 (w2), prepared outside (spvit_ov_gemm_array) as the bit pattern
//     a = {h[W_W-1:0], w1 sign-extended to PACK_SHIFT bits},   h = w2 - (w1 < 0)
// whose signed value is w1 + w2 * 2^S (S = PACK_SHIFT; no adder needed in the DSP).  B is the
// activation x.  With P = x * a (exact, A_W + B_W bits):
//     lo = sext(P[S-1:0])            = x * w1   exactly when |x * w1| < 2^(S-1)
//     hi = (P >>> S) + P[S-1]        = x * w2   (the borrow of the low field, added back)
// Both are PW bits.  hi_raw = P >>> S and hi_c = P[S-1] are the two addends of hi, for a consumer
// that absorbs hi_c in an adder it has anyway (spvit_ov_addtree's carry-ins: the array uses these
// and leaves hi, and its incrementer, unused).  PACK = 1: a = w (sign-extended), lo = P, hi = 0,
// hi_raw = 0, hi_c = 0.
// The exactness over every operand the array can hold (int8 x int8 x int8 exhaustively, u8 / s8
// activations x 9-bit weights in [-255, 255]) is proved in tests/test_rtl_ov_gemm.py.
//
// Registers (no reset: data path only):
//   A  <= a  when ce_a (the tile swap: the weights are stationary for a whole tile)
//   B  <= b  every cycle (the activation register of the DSP)
//   M  <= A * B
//   P  <= M
// Latency: b presented in cycle t -> lo/hi valid in cycle t + 3 (B, M, P).  An A loaded at the
// end of cycle t multiplies the b presented in cycle t and later.
// lo / hi / hi_raw / hi_c are combinational from P (hi: one PW-bit incrementer in the fabric).
module spvit_ov_dsp #(
    parameter int PACK       = 2,   // 2: packed pair (DSP48E2), 1: one product
    parameter int PACK_SHIFT = 18,  // S: bit position of the upper product (PACK = 2)
    parameter int W_W        = 9,   // weight width (signed)
    parameter int B_W        = 9,   // activation width (signed; u8 is zero-extended to 9 bits)
    parameter int PW         = 18,  // product output width (signed)
    localparam int A_W = (PACK == 2) ? PACK_SHIFT + W_W : W_W  // A operand width
) (
    input  logic                  clk,
    input  logic                  ce_a,  // load the A register (tile swap)
    input  logic [A_W-1:0]        a,     // weight operand (packed pair when PACK = 2)
    input  logic [B_W-1:0]        b,     // activation
    output logic signed [PW-1:0]  lo,    // x * w1 (PACK = 2) or x * w (PACK = 1)
    output logic signed [PW-1:0]  hi,    // x * w2 (PACK = 2); 0 when PACK = 1
    output logic signed [PW-1:0]  hi_raw,// P >>> S (PACK = 2): hi = hi_raw + hi_c
    output logic                  hi_c   // P[S-1] (PACK = 2)
);
  localparam int P_W = A_W + B_W;

  logic signed [A_W-1:0] a_r;
  logic signed [B_W-1:0] b_r;
  logic signed [P_W-1:0] m_r, p_r;

  always_ff @(posedge clk) begin
    if (ce_a) begin
      a_r <= a;
    end
    b_r <= b;
    m_r <= P_W'(a_r) * P_W'(b_r);
    p_r <= m_r;
  end

  if (PACK == 2) begin : g_pack2
    localparam int S = PACK_SHIFT;
    logic signed [P_W-S-1:0] upper;
    assign upper = p_r[P_W-1:S];
    assign lo = PW'($signed(p_r[S-1:0]));
    assign hi = PW'(upper + (P_W - S)'(p_r[S-1]));
    assign hi_raw = PW'(upper);
    assign hi_c = p_r[S-1];
  end else begin : g_pack1
    assign lo = PW'(p_r);
    assign hi = '0;
    assign hi_raw = '0;
    assign hi_c = 1'b0;
  end
endmodule
