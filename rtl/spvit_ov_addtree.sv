// spvit_ov_addtree: registered balanced adder tree, one adder level per pipeline stage, with one
// single-bit addend absorbed by each adder's carry-in.
//
//   sum + cout = x_0 + ... + x_{N-1} + c_0 + ... + c_{N-1}      (signed x, unsigned 1-bit c; exact)
//
// Level l (1..LG) adds pairs of level l-1 plus one pending c bit as the carry-in of each adder
// (a + b + c_in is one carry chain), and registers the sums (width IN_W + l) and the c bits not
// yet used: level 1 takes c_{2i} into adder i and keeps c_{2i+1}; level l takes the even pending
// bits and keeps the odd ones.  N - 1 adders absorb N - 1 bits; the one left is cout, aligned with
// sum, for the consumer's own carry-in (the accumulator adder).  The packed DSP's upper products
// need exactly this: hi = (P >>> S) + P[S-1] is fed as x = P >>> S, c = P[S-1], so the sign
// correction costs no adder of its own.  With all c = 0 it is a plain tree (cout = 0).
// Input in cycle t -> sum, cout valid in cycle t + LG (LG = log2 N).  N = 1: both registered
// once.  No reset, no enable.  Preconditions: N a power of two; the exact total (and every partial
// sum) fits IN_W + LG bits, which holds when |x_i + c_i| < 2^(IN_W-1).
module spvit_ov_addtree #(
    parameter int N    = 8,   // leaves (power of two)
    parameter int IN_W = 18,  // leaf width (signed)
    localparam int LG = (N > 1) ? $clog2(N) : 0,
    localparam int OUT_W = IN_W + LG
) (
    input  logic                    clk,
    input  logic [N*IN_W-1:0]       x,     // leaf i at [i*IN_W +: IN_W]
    input  logic [N-1:0]            c,     // one-bit addends (carry-ins)
    output logic signed [OUT_W-1:0] sum,
    output logic                    cout   // the addend not absorbed: total = sum + cout
);
  if (N == 1) begin : g_one
    always_ff @(posedge clk) begin
      sum <= $signed(x);
      cout <= c[0];
    end
  end else begin : g_tree
    for (genvar l = 1; l <= LG; l++) begin : g_lvl
      localparam int NL = N >> l;       // sums at this level
      localparam int WL = IN_W + l;     // their width
      logic [NL*WL-1:0] s;
      logic [NL-1:0] pend;              // c bits still to add
      for (genvar i = 0; i < NL; i++) begin : g_add
        logic signed [WL-2:0] u, v;
        logic ci, keep;
        if (l == 1) begin : g_leaf
          assign u = x[(2*i)*IN_W+:IN_W];
          assign v = x[(2*i+1)*IN_W+:IN_W];
          assign ci = c[2*i];
          assign keep = c[2*i+1];
        end else begin : g_inner
          assign u = g_lvl[l-1].s[(2*i)*(WL-1)+:(WL-1)];
          assign v = g_lvl[l-1].s[(2*i+1)*(WL-1)+:(WL-1)];
          assign ci = g_lvl[l-1].pend[2*i];
          assign keep = g_lvl[l-1].pend[2*i+1];
        end
        always_ff @(posedge clk) begin
          s[i*WL+:WL] <= WL'(u) + WL'(v) + WL'(ci);
          pend[i] <= keep;
        end
      end
    end
    assign sum = g_lvl[LG].s;
    assign cout = g_lvl[LG].pend[0];
  end
endmodule
