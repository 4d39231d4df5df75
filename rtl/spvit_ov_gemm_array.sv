// spvit_ov_gemm_array: the weight-stationary L x L MAC array of the overlay GEMM unit
// (spvit_ov_gemm): a shadow chain that takes the next weight tile while the current one computes,
// the DSP grid (spvit_ov_dsp) and one registered adder tree (spvit_ov_addtree) per output lane.
//
// Tile: W[n][k], n = output lane 0..L-1, k = input lane 0..L-1 (9-bit signed raw weights).
// Stream order of a tile (spvit_fpga.hw.overlay.layout.add_gemm; the AM loader reads rows in the
// same order): element e = q*2L + s*L + k is weight W[2p + s][k] with p = L/2 - 1 - q, i.e. the
// pair-rows last first, in each pair-row the even row then the odd row.
//
// Shadow chain ch[0 .. L*L-1] (9 bits an element): a step shifts CS elements in at the top,
//   ch[e] <= ch[e + CS]  (e < L*L - CS),   ch[L*L - CS + j] <= step element j,
// so after the L*L/CS steps of a tile ch[e] holds stream element e.  PACK = 2: the odd row of a
// pair is stored as h = w2 - (w1 < 0) (the borrow of the packed low field), computed as it
// enters: its w1 is step element j - L (j >= L) or ch[L*L - L + j] (the previous step), and
// whether element j is an odd-row element is static (CS >= 2L: (j / L) odd) or the parity of the
// step within the tile (CS = L: step_odd from the loader).
//
// swap (end of cycle): every DSP's A register loads its weights from the chain
//   PACK = 2, DSP (p, k): a = {h, sext18(w1)} with w1 = ch[q*2L + k], h = ch[q*2L + L + k]
//                         -> lo = x_k * W[2p][k] into tree 2p, hi = x_k * W[2p+1][k] into tree 2p+1
//   PACK = 1, DSP (n, k): a = ch[q*2L + (n % 2)*L + k], q = L/2 - 1 - n/2 -> tree n
// The chain may shift in the same cycle as the swap (A takes the old contents).
//
// act (L lanes, 9-bit signed) in cycle t enters the B registers at the end of t; the products of
// that row use the A registers loaded at the end of t or earlier.  Lane n's result
// sum_k x_k * W[n][k] = sums[n] + couts[n] (SUM_W = 18 + log2 L bits, exact) is valid in cycle
// t + 3 + log2 L: an odd lane's tree (PACK = 2) adds the DSPs' P >>> 18 and takes their borrow
// bits P[17] as adder carry-ins (spvit_ov_addtree), one bit of which is left for the consumer's
// carry-in (couts[n]); even lanes and PACK = 1 have couts[n] = 0.
// DSPs: L*L/PACK.  Adder-tree registers: L trees x sum_{l=1..LG} (L >> l) * (18 + l + 1) bits;
// no fabric adder besides the trees (the unpack is wiring plus carry-ins).
// Preconditions: L even power of two >= 2; CS = L*2^i (a multiple of L dividing L*L);
// PACK = 2: every odd-row weight w2 with w1 < 0 is >= -255 (so h fits 9 bits).
module spvit_ov_gemm_array #(
    parameter int L          = 8,    // array side (output lanes = input lanes)
    parameter int PACK       = 2,    // MACs per DSP (2: DSP48E2 packing, 1: one product)
    parameter int PACK_SHIFT = 18,   // upper product position (PACK = 2)
    parameter int CS         = 32,   // weights a chain step
    localparam int LG = $clog2(L),
    localparam int PW = 18,          // product width (9-bit x 9-bit signed)
    localparam int SUM_W = PW + LG   // tree output width
) (
    input  logic                 clk,
    input  logic                 step_valid,  // shift one step into the chain (end of cycle)
    input  logic                 step_odd,    // CS = L only: this step is an odd row of its pair
    input  logic [CS*9-1:0]      step_data,   // element j at [j*9 +: 9], stream order, raw
    input  logic                 swap,        // DSP A registers <= chain (end of cycle)
    input  logic [L*9-1:0]       act,         // activation lanes (signed 9-bit)
    output logic [L*SUM_W-1:0]   sums,        // lane n at [n*SUM_W +: SUM_W]
    output logic [L-1:0]         couts        // lane n's remaining one-bit addend
);
  localparam int NE = L * L;
  localparam int A_W = (PACK == 2) ? PACK_SHIFT + 9 : 9;

  logic [NE*9-1:0] ch;
  logic [CS*9-1:0] enter;

  // ---- chain entry (PACK = 2: odd rows stored with the borrow of their w1 subtracted) --------
  for (genvar j = 0; j < CS; j++) begin : g_enter
    logic signed [8:0] w;
    assign w = step_data[j*9+:9];
    if (PACK == 2) begin : g_dec
      logic w1_neg;  // sign of the pair's w1
      logic odd;
      if (j >= L) begin : g_w1_step
        assign w1_neg = step_data[(j-L)*9+8];
      end else begin : g_w1_chain
        assign w1_neg = ch[(NE-L+j)*9+8];
      end
      if (CS >= 2 * L) begin : g_static
        assign odd = ((j / L) % 2) == 1;
      end else begin : g_toggle
        assign odd = step_odd;
      end
      assign enter[j*9+:9] = (odd && w1_neg) ? w - 9'sd1 : w;
    end else begin : g_raw
      assign enter[j*9+:9] = w;
    end
  end

  if (CS < NE) begin : g_chain
    always_ff @(posedge clk) begin
      if (step_valid) begin
        ch <= {enter, ch[NE*9-1:CS*9]};
      end
    end
  end else begin : g_one_step
    always_ff @(posedge clk) begin
      if (step_valid) begin
        ch <= enter;
      end
    end
  end
  logic unused_odd;
  assign unused_odd = step_odd;

  // ---- DSP grid and trees -----------------------------------------------------------------
  logic [L*L*PW-1:0] leaves;  // tree n, leaf k at [(n*L + k)*PW +: PW]
  logic [L*L-1:0] cbits;      // tree n, leaf k's one-bit addend at [n*L + k]

  if (PACK == 2) begin : g_grid2
    for (genvar p = 0; p < L / 2; p++) begin : g_p
      for (genvar k = 0; k < L; k++) begin : g_k
        localparam int E1 = (L / 2 - 1 - p) * 2 * L + k;  // w1 = W[2p][k]
        localparam int E2 = E1 + L;                       // h  (W[2p+1][k])
        logic [A_W-1:0] a;
        logic signed [PW-1:0] lo, hi, hi_raw;
        logic hi_c;
        assign a = {ch[E2*9+:9], {(PACK_SHIFT - 9) {ch[E1*9+8]}}, ch[E1*9+:9]};
        spvit_ov_dsp #(
            .PACK(2),
            .PACK_SHIFT(PACK_SHIFT),
            .W_W(9),
            .B_W(9),
            .PW(PW)
        ) u_dsp (
            .clk(clk),
            .ce_a(swap),
            .a(a),
            .b(act[k*9+:9]),
            .lo(lo),
            .hi(hi),
            .hi_raw(hi_raw),
            .hi_c(hi_c)
        );
        assign leaves[((2*p)*L+k)*PW+:PW] = lo;
        assign cbits[(2*p)*L+k] = 1'b0;
        assign leaves[((2*p+1)*L+k)*PW+:PW] = hi_raw;  // + hi_c through the tree's carry-ins
        assign cbits[(2*p+1)*L+k] = hi_c;
        logic signed [PW-1:0] unused_hi;
        assign unused_hi = hi;
      end
    end
  end else begin : g_grid1
    for (genvar n = 0; n < L; n++) begin : g_n
      for (genvar k = 0; k < L; k++) begin : g_k
        localparam int E = (L / 2 - 1 - n / 2) * 2 * L + (n % 2) * L + k;
        logic signed [PW-1:0] lo, hi, hi_raw;
        logic hi_c;
        spvit_ov_dsp #(
            .PACK(1),
            .PACK_SHIFT(PACK_SHIFT),
            .W_W(9),
            .B_W(9),
            .PW(PW)
        ) u_dsp (
            .clk(clk),
            .ce_a(swap),
            .a(ch[E*9+:9]),
            .b(act[k*9+:9]),
            .lo(lo),
            .hi(hi),
            .hi_raw(hi_raw),
            .hi_c(hi_c)
        );
        assign leaves[(n*L+k)*PW+:PW] = lo;
        assign cbits[n*L+k] = 1'b0;
        logic unused_hi;
        assign unused_hi = ^{hi, hi_raw, hi_c};
      end
    end
  end

  for (genvar n = 0; n < L; n++) begin : g_tree
    logic signed [SUM_W-1:0] s;
    spvit_ov_addtree #(
        .N(L),
        .IN_W(PW)
    ) u_tree (
        .clk(clk),
        .x(leaves[n*L*PW+:L*PW]),
        .c(cbits[n*L+:L]),
        .sum(s),
        .cout(couts[n])
    );
    assign sums[n*SUM_W+:SUM_W] = s;
  end
endmodule
