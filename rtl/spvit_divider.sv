// spvit_divider: sequential integer divider with the intops rounding rule
// (intops.int_rounded_div): y = RNE(num / den), ties to even, den > 0.
//
//   q0 = floor(|num| / den), r = |num| - q0*den
//   y  = q0 + (2r > den || (2r == den && q0 odd)),  negated when num < 0 (RNE is odd-symmetric)
//
// Restoring division, STEPS quotient bits per cycle, Q_W quotient bits in total: a division
// takes ceil(Q_W/STEPS) cycles after the input is accepted, one more to leave the output register
// (throughput one result per ceil(Q_W/STEPS)+1 cycles).
// Precondition (the caller's proof, as in docs/integer_arithmetic.md): |num| < den * 2^Q_W and
// den > 0; the result then lies in [-2^Q_W, 2^Q_W].  Outside it the output is undefined.
// s_axis_tdata = {den, num}; tuser/tlast are carried through with the result.
module spvit_divider #(
    parameter int NUM_W  = 24,                      // numerator width
    parameter bit SIGNED = 1'b0,                    // numerator two's complement (else unsigned)
    parameter int DEN_W  = 16,                      // denominator width (unsigned, > 0)
    parameter int Q_W    = 9,                       // quotient bits: |num| < den * 2^Q_W
    parameter int STEPS  = 1,                       // quotient bits per cycle (unrolled)
    parameter int USER_W = 1,                       // side information carried with a division
    parameter int OUT_W  = Q_W + (SIGNED ? 2 : 1)   // result width (holds +-2^Q_W)
) (
    input  logic                   clk,
    input  logic                   rst_n,
    input  logic [DEN_W+NUM_W-1:0] s_axis_tdata,   // {den, num}
    input  logic                   s_axis_tvalid,
    output logic                   s_axis_tready,
    input  logic                   s_axis_tlast,
    input  logic [USER_W-1:0]      s_axis_tuser,
    output logic [OUT_W-1:0]       m_axis_tdata,   // RNE(num / den)
    output logic                   m_axis_tvalid,
    input  logic                   m_axis_tready,
    output logic                   m_axis_tlast,
    output logic [USER_W-1:0]      m_axis_tuser
);
  localparam int ITER = (Q_W + STEPS - 1) / STEPS;  // cycles per division
  localparam int Q_P = ITER * STEPS;                // quotient bits computed (>= Q_W)
  localparam int CNT_W = $clog2(ITER + 1);

  // ---- input: magnitude and sign --------------------------------------------------------------
  logic [NUM_W-1:0] num, mag;
  logic [DEN_W-1:0] den;
  logic neg_in;
  logic [NUM_W+Q_P-1:0] mag_ext;
  logic [NUM_W+Q_P-1:0] mag_hi;        // mag >> Q_P: the initial remainder, < den by precondition

  assign num = s_axis_tdata[NUM_W-1:0];
  assign den = s_axis_tdata[DEN_W+NUM_W-1:NUM_W];
  assign neg_in = SIGNED && num[NUM_W-1];
  assign mag = neg_in ? (~num + 1'b1) : num;
  assign mag_ext = {{Q_P{1'b0}}, mag};
  assign mag_hi = mag_ext >> Q_P;

  // ---- state ------------------------------------------------------------------------------------
  logic busy;
  logic [CNT_W-1:0] cnt;
  logic [DEN_W-1:0] d, rem;
  logic [Q_P-1:0] lo;                  // numerator bits still to bring down (MSB first)
  logic [Q_P-1:0] q;                   // quotient bits so far (shifted in at the LSB)
  logic neg;
  logic last_r;
  logic [USER_W-1:0] user_r;

  // ---- STEPS restoring steps (combinational) ------------------------------------------------
  logic [DEN_W-1:0] rem_n;
  logic [Q_P-1:0] lo_n, q_n;
  always_comb begin : p_steps
    logic [DEN_W:0] r2;
    rem_n = rem;
    lo_n = lo;
    q_n = q;
    for (int s = 0; s < STEPS; s++) begin
      r2 = {rem_n, lo_n[Q_P-1]};
      lo_n = lo_n << 1;
      q_n = q_n << 1;
      if (r2 >= {1'b0, d}) begin
        r2 = r2 - {1'b0, d};
        q_n[0] = 1'b1;
      end
      rem_n = r2[DEN_W-1:0];           // r2 < d here
    end
  end

  // ---- rounding of the final quotient -------------------------------------------------------
  logic [DEN_W:0] twice_r;
  logic round_up;
  logic [Q_W:0] q_round;               // q0 + round_up, <= 2^Q_W
  logic [OUT_W-1:0] y;
  assign twice_r = {rem_n, 1'b0};
  assign round_up = (twice_r > {1'b0, d}) || (twice_r == {1'b0, d} && q_n[0]);
  assign q_round = {1'b0, q_n[Q_W-1:0]} + {{Q_W{1'b0}}, round_up};
  if (SIGNED) begin : g_signed
    assign y = neg ? -{1'b0, q_round} : {1'b0, q_round};
  end else begin : g_unsigned
    assign y = q_round;
  end

  assign s_axis_tready = !busy && (!m_axis_tvalid || m_axis_tready);

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      busy <= 1'b0;
      m_axis_tvalid <= 1'b0;
    end else begin
      if (m_axis_tready) begin
        m_axis_tvalid <= 1'b0;
      end
      if (s_axis_tvalid && s_axis_tready) begin
        busy <= 1'b1;
      end else if (busy && cnt == CNT_W'(1)) begin
        busy <= 1'b0;
        m_axis_tvalid <= 1'b1;
      end
    end
  end

  always_ff @(posedge clk) begin
    if (s_axis_tvalid && s_axis_tready) begin
      rem <= mag_hi[DEN_W-1:0];
      lo <= mag_ext[Q_P-1:0];
      q <= '0;
      d <= den;
      neg <= neg_in;
      cnt <= CNT_W'(ITER);
      last_r <= s_axis_tlast;
      user_r <= s_axis_tuser;
    end else if (busy) begin
      rem <= rem_n;
      lo <= lo_n;
      q <= q_n;
      cnt <= cnt - 1'b1;
      if (cnt == CNT_W'(1)) begin
        m_axis_tdata <= y;
        m_axis_tlast <= last_r;
        m_axis_tuser <= user_r;
      end
    end
  end

  // Bits that are zero by the precondition (numerator above Q_P + DEN_W, quotient above Q_W)
  // are not looked at; neg is unused by an unsigned divider.
  logic unused_ok;
  assign unused_ok = &{1'b0, mag_hi, q_n, neg};
endmodule
