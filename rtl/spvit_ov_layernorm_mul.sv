// spvit_ov_layernorm_mul: unsigned product a * b of operands wider than one DSP, in DSP-sized
// pieces with every DSP register used, for the LayerNorm unit's per-row scalar path
// (C*Q, S^2, C*(CQ - S^2), C*t, |S|*t).
//
//   a = sum_i a_i 2^(26 i)   (a_i: 26-bit unsigned pieces, NA = ceil(AW / 26) of them)
//   b = sum_j b_j 2^(17 j)   (b_j: 17-bit unsigned pieces, NB = ceil(BW / 17) of them)
//   p = sum_ij (a_i * b_j) 2^(26 i + 17 j)   mod 2^PW
//
// Every piece product a_i * b_j is one 27 x 18 signed DSP multiply (both pieces zero-extended):
// stage 1 registers the pieces (DSP A/B registers), stage 2 the product (M register), stage 3
// again (P register); stages 4 and 5 add the shifted piece products in a registered two-level
// adder tree (NA * NB <= 4 pieces; with fewer pieces the levels are plain registers).
// Latency: p is the product of the a, b presented LAT = 5 cycles earlier; a new product every
// cycle.  The sum is taken mod 2^PW: exact whenever a * b < 2^PW (the caller's bound).
// DSPs: NA * NB.  No reset (data path only).
module spvit_ov_layernorm_mul #(
    parameter int AW = 42,   // width of a (unsigned)
    parameter int BW = 11,   // width of b (unsigned)
    parameter int PW = 52    // width of the product kept (the caller proves a * b < 2^PW)
) (
    input  logic          clk,
    input  logic [AW-1:0] a,      // multiplicand (unsigned)
    input  logic [BW-1:0] b,      // multiplier (unsigned)
    output logic [PW-1:0] p       // a * b of 5 cycles earlier, mod 2^PW
);
  localparam int NA = (AW + 25) / 26;
  localparam int NB = (BW + 16) / 17;
  localparam int NP = NA * NB;                             // DSPs
  localparam int AP = NA * 26;
  localparam int BP = NB * 17;

  logic [AP-1:0] a_ext;
  logic [BP-1:0] b_ext;
  assign a_ext = AP'(a);
  assign b_ext = BP'(b);

  // four piece products at most: the adder tree below has two levels
  logic [4*PW-1:0] shifted;                                // piece products, shifted, mod 2^PW

  for (genvar i = 0; i < NA; i++) begin : g_a
    for (genvar j = 0; j < NB; j++) begin : g_b
      logic signed [26:0] a_r;                             // DSP A register
      logic signed [17:0] b_r;                             // DSP B register
      logic signed [44:0] m_r, p_r;                        // DSP M and P registers
      always_ff @(posedge clk) begin
        a_r <= $signed({1'b0, a_ext[i*26+:26]});
        b_r <= $signed({1'b0, b_ext[j*17+:17]});
        m_r <= a_r * b_r;
        p_r <= m_r;
      end
      localparam int SH = 26 * i + 17 * j;
      localparam int K = i * NB + j;
      if (SH < PW) begin : g_keep
        logic [PW+44:0] wide;
        assign wide = (PW + 45)'(p_r[43:0]) << SH;        // p_r >= 0 and < 2^43
        assign shifted[K*PW+:PW] = wide[PW-1:0];
        logic unused_hi;
        assign unused_hi = &{1'b0, wide[PW+44:PW], p_r[44]};
      end else begin : g_drop
        assign shifted[K*PW+:PW] = '0;
        logic unused_p;
        assign unused_p = &{1'b0, p_r};
      end
    end
  end
  for (genvar k = NP; k < 4; k++) begin : g_zero
    assign shifted[k*PW+:PW] = '0;
  end

  logic [PW-1:0] s01, s23;
  always_ff @(posedge clk) begin
    s01 <= shifted[0*PW+:PW] + shifted[1*PW+:PW];
    s23 <= shifted[2*PW+:PW] + shifted[3*PW+:PW];
    p <= s01 + s23;
  end

  // a piece product of 26 x 17 unsigned bits is below 2^43; NA * NB must be at most 4
  if (NP > 4) begin : g_too_many_pieces
    localparam int TOO_MANY_PIECES = 1 / 0;
  end
endmodule
