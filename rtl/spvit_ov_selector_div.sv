// spvit_ov_selector_div: fully pipelined divider with the intops rounding rule
// (intops.int_rounded_div): y = RNE(num / den), ties to even, den > 0; one division enters
// every cycle (no back-pressure), used by the overlay selector unit (spvit_ov_selector).
//
//   q0 = floor(|num| / den), r = |num| - q0*den
//   y  = q0 + (2r > den || (2r == den && q0 odd)),  negated when num < 0 (RNE is odd-symmetric)
//
// Restoring division, STEPS quotient bits a pipeline stage (at most 2 for 300 MHz), Q_P =
// ceil(Q_W/STEPS)*STEPS quotient bits.  Overflow: when |num| >= den * 2^Q_P the quotient does
// not fit; the output is then +-2^Q_P with the sign of num (flag ovf), a value every output
// format narrower than Q_P+1 bits saturates to its bound, so a caller that saturates to such
// a format needs no other precondition.  Otherwise y is exact (|y| <= 2^Q_P).
//
// Latency: a division presented with in_v in cycle c leaves with out_v in cycle
// c + ceil(Q_W/STEPS) + 3 (input register, one register a STEPS-bit stage, rounding, sign).
// busy is high while any division is inside (including the cycle of out_v).
module spvit_ov_selector_div #(
    parameter int NUM_W = 32,                                   // numerator width (signed)
    parameter int DEN_W = 16,                                   // denominator width (unsigned, > 0)
    parameter int Q_W   = 16,                                   // quotient bits computed (rounded up to STEPS)
    parameter int STEPS = 2,                                    // quotient bits a stage
    parameter int TAG_W = 1,                                    // side information carried along
    parameter int OUT_W = ((Q_W + STEPS - 1) / STEPS) * STEPS + 2  // result width (holds +-2^Q_P)
) (
    input  logic             clk,
    input  logic             rst_n,
    input  logic             in_v,     // a division enters
    input  logic [NUM_W-1:0] in_num,   // numerator, two's complement
    input  logic [DEN_W-1:0] in_den,   // denominator (> 0)
    input  logic [TAG_W-1:0] in_tag,
    output logic             out_v,    // the result of the division that entered ITER+3 cycles ago
    output logic [OUT_W-1:0] out_q,    // RNE(num / den), or +-2^Q_P on overflow
    output logic [TAG_W-1:0] out_tag,
    output logic             busy
);
  localparam int ITER = (Q_W + STEPS - 1) / STEPS;   // pipeline stages of STEPS bits
  localparam int Q_P = ITER * STEPS;
  localparam int HI_W = (NUM_W > Q_P) ? NUM_W - Q_P : 1;  // |num| >> Q_P

  // ---- input register: magnitude, sign ----------------------------------------------------------
  logic v0, neg0;
  logic [NUM_W-1:0] mag0;
  logic [DEN_W-1:0] den0;
  logic [TAG_W-1:0] tag0;
  logic [NUM_W+Q_P-1:0] mag0_ext;
  logic [HI_W-1:0] hi0;
  logic ovf0;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      v0 <= 1'b0;
    end else begin
      v0 <= in_v;
    end
  end

  always_ff @(posedge clk) begin
    neg0 <= in_num[NUM_W-1];
    mag0 <= in_num[NUM_W-1] ? (~in_num + 1'b1) : in_num;
    den0 <= in_den;
    tag0 <= in_tag;
  end

  assign mag0_ext = {{Q_P{1'b0}}, mag0};
  assign hi0 = HI_W'(mag0_ext >> Q_P);
  assign ovf0 = ({{(DEN_W + 1){1'b0}}, hi0} >= {{(HI_W + 1){1'b0}}, den0});

  // ---- ITER stages of STEPS restoring steps ----------------------------------------------------
  // stage s (1..ITER) registers at index s-1; the inputs of stage 1 come from the input register
  logic [ITER-1:0] sv, sneg, sovf;
  logic [ITER-1:0][DEN_W-1:0] srem, sd;
  logic [ITER-1:0][Q_P-1:0] slo, sq;
  logic [ITER-1:0][TAG_W-1:0] stag;

  logic [ITER-1:0][DEN_W-1:0] irem, id_, nrem;
  logic [ITER-1:0][Q_P-1:0] ilo, iq, nlo, nq;

  always_comb begin : p_in
    irem[0] = DEN_W'(hi0);             // < den unless ovf0 (then the result is replaced)
    id_[0] = den0;
    ilo[0] = mag0_ext[Q_P-1:0];
    iq[0] = '0;
    for (int s = 1; s < ITER; s++) begin
      irem[s] = srem[s-1];
      id_[s] = sd[s-1];
      ilo[s] = slo[s-1];
      iq[s] = sq[s-1];
    end
  end

  always_comb begin : p_steps
    logic [DEN_W:0] r2;
    for (int s = 0; s < ITER; s++) begin
      nrem[s] = irem[s];
      nlo[s] = ilo[s];
      nq[s] = iq[s];
      for (int k = 0; k < STEPS; k++) begin
        r2 = {nrem[s], nlo[s][Q_P-1]};
        nlo[s] = nlo[s] << 1;
        nq[s] = nq[s] << 1;
        if (r2 >= {1'b0, id_[s]}) begin
          r2 = r2 - {1'b0, id_[s]};
          nq[s][0] = 1'b1;
        end
        nrem[s] = r2[DEN_W-1:0];
      end
    end
  end

  // chains: the input register followed by the stage registers
  logic [ITER:0] v_ch, neg_ch, ovf_ch;
  logic [ITER:0][TAG_W-1:0] tag_ch;
  assign v_ch = {sv, v0};
  assign neg_ch = {sneg, neg0};
  assign ovf_ch = {sovf, ovf0};
  assign tag_ch = {stag, tag0};

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      sv <= '0;
    end else begin
      sv <= v_ch[ITER-1:0];
    end
  end

  always_ff @(posedge clk) begin
    srem <= nrem;
    slo <= nlo;
    sq <= nq;
    sd <= id_;
    sneg <= neg_ch[ITER-1:0];
    sovf <= ovf_ch[ITER-1:0];
    stag <= tag_ch[ITER-1:0];
  end

  // ---- rounding (one register), sign and overflow (output register) --------------------------
  logic [DEN_W:0] twice_r;
  logic round_up;
  logic f_v, f_neg, f_ovf;
  logic [Q_P:0] f_q;
  logic [TAG_W-1:0] f_tag;
  assign twice_r = {srem[ITER-1], 1'b0};
  assign round_up = (twice_r > {1'b0, sd[ITER-1]}) || (twice_r == {1'b0, sd[ITER-1]} && sq[ITER-1][0]);

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      f_v <= 1'b0;
      out_v <= 1'b0;
    end else begin
      f_v <= v_ch[ITER];
      out_v <= f_v;
    end
  end

  always_ff @(posedge clk) begin
    f_q <= {1'b0, sq[ITER-1]} + {{Q_P{1'b0}}, round_up};
    f_neg <= neg_ch[ITER];
    f_ovf <= ovf_ch[ITER];
    f_tag <= tag_ch[ITER];
    if (f_ovf) begin
      out_q <= f_neg ? -(OUT_W'(1) << Q_P) : (OUT_W'(1) << Q_P);
    end else begin
      out_q <= f_neg ? -(OUT_W'(f_q)) : OUT_W'(f_q);
    end
    out_tag <= f_tag;
  end

  assign busy = v0 | (|sv) | f_v | out_v;
endmodule
