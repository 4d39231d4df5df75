// spvit_ov_softmax_div: LANES pipelined dividers sharing one denominator a beat, with the intops
// rounding rule (intops.int_rounded_div): y_l = RNE(num_l / den), ties to even, den > 0.
//
//   q0 = floor(num / den), r = num - q0*den;  y = q0 + (2r > den || (2r == den && q0 odd))
//
// Restoring division, Q_W quotient bits, STEPS <= 2 bits a stage: ceil(Q_W / STEPS) stages, each
// ending in a register, so every lane accepts a division every cycle.  Stage 0 registers the
// inputs (initial remainder num >> Q_W, the Q_W low bits to bring down), the last stage rounds.
// Latency: out_* hold the result of the in_* of LAT = ceil(Q_W / STEPS) + 2 cycles earlier; no
// back-pressure.  in_user travels with the beat (addresses, enables, flags of the caller).
// Preconditions: num_l < den * 2^Q_W for every lane and den > 0 on a valid beat; the result then
// lies in [0, 2^Q_W] (Q_W + 1 bits).  Outside them the output is undefined.
// Hardware: LANES x (ceil(Q_W/STEPS) x STEPS) compare-subtracts of DEN_W + 1 bits; no DSP.
module spvit_ov_softmax_div #(
    parameter int LANES  = 8,    // dividers
    parameter int NUM_W  = 24,   // numerator width (unsigned)
    parameter int DEN_W  = 24,   // denominator width (unsigned, > 0)
    parameter int Q_W    = 9,    // quotient bits: num < den * 2^Q_W
    parameter int STEPS  = 2,    // quotient bits a stage (1 or 2)
    parameter int USER_W = 1     // side data carried with a beat
) (
    input  logic                   clk,
    input  logic                   rst_n,
    input  logic                   in_valid,
    input  logic [LANES*NUM_W-1:0] in_num,    // numerator of lane l at [l*NUM_W +: NUM_W]
    input  logic [DEN_W-1:0]       in_den,    // the beat's denominator
    input  logic [USER_W-1:0]      in_user,
    output logic                   out_valid,
    output logic [LANES*(Q_W+1)-1:0] out_q,   // RNE(num / den) of lane l at [l*(Q_W+1) +: Q_W+1]
    output logic [USER_W-1:0]      out_user
);
  localparam int NS = (Q_W + STEPS - 1) / STEPS;  // step stages
  localparam int QP = NS * STEPS;                 // quotient bits computed (>= Q_W)
  localparam int HI_W = (NUM_W > QP) ? NUM_W - QP : 1;

  // stage s = 0 .. NS: the remainder, the bits still to bring down (MSB first), the quotient so far
  logic [LANES*DEN_W-1:0] rem[NS+1];
  logic [LANES*QP-1:0] lo[NS+1];
  logic [LANES*QP-1:0] qq[NS+1];
  logic [DEN_W-1:0] den[NS+1];
  logic [USER_W-1:0] user[NS+1];
  logic vld[NS+1];

  // stage 0: inputs
  always_ff @(posedge clk) begin
    for (int l = 0; l < LANES; l++) begin
      logic [NUM_W+QP-1:0] ext;
      ext = (NUM_W + QP)'(in_num[l*NUM_W+:NUM_W]);
      rem[0][l*DEN_W+:DEN_W] <= DEN_W'(ext >> QP);        // < den by the precondition
      lo[0][l*QP+:QP] <= ext[QP-1:0];
      qq[0][l*QP+:QP] <= '0;
    end
    den[0] <= in_den;
    user[0] <= in_user;
  end

  // stages 1 .. NS: STEPS restoring steps each
  for (genvar s = 1; s <= NS; s++) begin : g_stage
    always_ff @(posedge clk) begin
      for (int l = 0; l < LANES; l++) begin
        logic [DEN_W:0] r2;
        logic [DEN_W+1:0] diff;
        logic [DEN_W-1:0] r;
        logic [QP-1:0] b, q;
        r = rem[s-1][l*DEN_W+:DEN_W];
        b = lo[s-1][l*QP+:QP];
        q = qq[s-1][l*QP+:QP];
        for (int k = 0; k < STEPS; k++) begin
          // one subtraction a step: its borrow is the comparison
          r2 = {r, b[QP-1]};
          diff = {1'b0, r2} - {2'b0, den[s-1]};
          b = b << 1;
          q = q << 1;
          if (!diff[DEN_W+1]) begin
            r2 = diff[DEN_W:0];
            q[0] = 1'b1;
          end
          r = r2[DEN_W-1:0];                               // r2 < den here
        end
        rem[s][l*DEN_W+:DEN_W] <= r;
        lo[s][l*QP+:QP] <= b;
        qq[s][l*QP+:QP] <= q;
      end
      den[s] <= den[s-1];
      user[s] <= user[s-1];
    end
  end

  // rounding stage
  always_ff @(posedge clk) begin
    for (int l = 0; l < LANES; l++) begin
      logic [DEN_W:0] twice;
      logic [QP-1:0] q;
      logic up;
      twice = {rem[NS][l*DEN_W+:DEN_W], 1'b0};
      q = qq[NS][l*QP+:QP];
      up = (twice > {1'b0, den[NS]}) || (twice == {1'b0, den[NS]} && q[0]);
      out_q[l*(Q_W+1)+:Q_W+1] <= (Q_W + 1)'(q) + (Q_W + 1)'(up);
    end
    out_user <= user[NS];
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      for (int s = 0; s <= NS; s++) vld[s] <= 1'b0;
      out_valid <= 1'b0;
    end else begin
      vld[0] <= in_valid;
      for (int s = 1; s <= NS; s++) vld[s] <= vld[s-1];
      out_valid <= vld[NS];
    end
  end

  // the numerator bits above QP + DEN_W are zero by the precondition; the brought-down bits are
  // all consumed after the last stage
  logic unused_ok;
  assign unused_ok = &{1'b0, lo[NS], HI_W'(0)};
endmodule
