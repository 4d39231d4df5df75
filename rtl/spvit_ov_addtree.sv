// spvit_ov_addtree: registered balanced adder tree, one adder level per pipeline stage.
//
//   sum = x_0 + x_1 + ... + x_{N-1}        (signed, exact: OUT_W = IN_W + log2(N))
//
// Level l (1..LG) adds pairs of level l-1 and registers them (width IN_W + l).  Input in cycle t
// -> sum valid in cycle t + LG (LG = log2 N).  N = 1: sum = x registered once (latency 1).
// No reset, no enable: the array's data path runs every cycle and tags travel beside it.
// Preconditions: N a power of two.
module spvit_ov_addtree #(
    parameter int N    = 8,   // leaves (power of two)
    parameter int IN_W = 18,  // leaf width (signed)
    localparam int LG = (N > 1) ? $clog2(N) : 0,
    localparam int OUT_W = IN_W + LG
) (
    input  logic                  clk,
    input  logic [N*IN_W-1:0]     x,    // leaf i at [i*IN_W +: IN_W]
    output logic signed [OUT_W-1:0] sum
);
  if (N == 1) begin : g_one
    always_ff @(posedge clk) begin
      sum <= $signed(x);
    end
  end else begin : g_tree
    for (genvar l = 1; l <= LG; l++) begin : g_lvl
      localparam int NL = N >> l;       // sums at this level
      localparam int WL = IN_W + l;     // their width
      logic [NL*WL-1:0] s;
      for (genvar i = 0; i < NL; i++) begin : g_add
        logic signed [WL-2:0] u, v;
        if (l == 1) begin : g_leaf
          assign u = x[(2*i)*IN_W+:IN_W];
          assign v = x[(2*i+1)*IN_W+:IN_W];
        end else begin : g_inner
          assign u = g_lvl[l-1].s[(2*i)*(WL-1)+:(WL-1)];
          assign v = g_lvl[l-1].s[(2*i+1)*(WL-1)+:(WL-1)];
        end
        always_ff @(posedge clk) begin
          s[i*WL+:WL] <= WL'(u) + WL'(v);
        end
      end
    end
    assign sum = g_lvl[LG].s;
  end
endmodule
