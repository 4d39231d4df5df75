// spvit_gemm: PE x SIMD integer MAC array with a requantising epilogue (intops.int_linear,
// int_matmul, int_attention_scores / _context, and the GELU table of the MLP).
//
// One output beat = PE outputs of one token:
//   acc[p]  = sum over the beats of one accumulation of sum_s x[s] * w[p][s]      (exact, ACC_W)
//   e[p]    = acc[p] + bias[p] + (res[p] << RES_ALIGN)          RES_ALIGN >= 0     (exact)
//           = ((acc[p] + bias[p]) << -RES_ALIGN) + res[p]       RES_ALIGN < 0
//   q[p]    = saturate(round_shift(e[p], SHIFT [- RES_ALIGN if < 0]), OUT_W)      (spvit_requant)
//   y[p]    = HAS_TABLE ? T[q[p] - min_int] : q[p]                                (spvit_rom)
// The caller streams x (SIMD values a beat, tlast on the last beat of an accumulation, so the
// fan-in is a run-time quantity) and, in lock-step, the matching weights (PE x SIMD a beat);
// weight reuse across tokens is the caller's (frame buffer / weight buffer) business.  Bias and
// residual arrive on their own streams, one beat per output beat.  ACC_W must hold the largest
// |sum| (intops.accumulator_bits): there is no saturation inside the accumulation.
//
// Lanes: x lane s at s_axis_x_tdata[s*X_W +: X_W]; weight (p, s) at [(p*SIMD + s)*W_W +: W_W];
// bias p at [p*BIAS_W +: BIAS_W]; residual p at [p*RES_W +: RES_W]; output p at [p*Y_W +: Y_W].
// s_axis_x_tuser on the tlast beat is returned as m_axis_tlast of that output beat.
// Pipeline: MAC register (accepts a beat every cycle), epilogue register, output register.
module spvit_gemm #(
    parameter int PE         = 4,            // outputs per beat (parallel output neurons)
    parameter int SIMD       = 8,            // inputs per beat (parallel synapses)
    parameter int X_W        = 8,            // activation width
    parameter bit X_SIGNED   = 1'b1,         // activations signed (0: e.g. softmax probabilities)
    parameter int W_W        = 8,            // weight width
    parameter bit W_SIGNED   = 1'b1,         // weights signed
    parameter int ACC_W      = 32,           // accumulator width (>= intops.accumulator_bits)
    parameter bit HAS_BIAS   = 1'b1,         // consume s_axis_b (else bias = 0, port unused)
    parameter int BIAS_W     = 32,           // bias width (frac of the accumulator)
    parameter bit HAS_RES    = 1'b0,         // consume s_axis_r (fused residual add)
    parameter int RES_W      = 16,           // residual width
    parameter int RES_ALIGN  = 0,            // f_x + f_w - f_r: residual << it (>= 0), or
                                             // accumulator << -it and SHIFT grows by -it (< 0)
    parameter int SHIFT      = 8,            // requantisation shift = f_acc - f_out (<= 0: left)
    parameter int OUT_W      = 8,            // requantised width (table input width if HAS_TABLE)
    parameter bit OUT_SIGNED = 1'b1,         // requantised format signed
    parameter bit HAS_TABLE  = 1'b0,         // apply a table (GELU) to the requantised value
    parameter int TABLE_W    = 8,            // table entry width
    parameter     TABLE_FILE = "gelu.hex",   // $readmemh table, 2^OUT_W entries
    parameter int Y_W        = HAS_TABLE ? TABLE_W : OUT_W  // output lane width (do not set)
) (
    input  logic                       clk,
    input  logic                       rst_n,
    // activations
    input  logic [SIMD*X_W-1:0]        s_axis_x_tdata,
    input  logic                       s_axis_x_tvalid,
    output logic                       s_axis_x_tready,
    input  logic                       s_axis_x_tlast,   // last beat of an accumulation
    input  logic                       s_axis_x_tuser,   // on the tlast beat: m_axis_tlast
    // weights, in lock-step with the activations
    input  logic [PE*SIMD*W_W-1:0]     s_axis_w_tdata,
    input  logic                       s_axis_w_tvalid,
    output logic                       s_axis_w_tready,
    // bias, one beat per output beat
    input  logic [PE*BIAS_W-1:0]       s_axis_b_tdata,
    input  logic                       s_axis_b_tvalid,
    output logic                       s_axis_b_tready,
    // residual, one beat per output beat
    input  logic [PE*RES_W-1:0]        s_axis_r_tdata,
    input  logic                       s_axis_r_tvalid,
    output logic                       s_axis_r_tready,
    // outputs
    output logic [PE*Y_W-1:0]          m_axis_tdata,
    output logic                       m_axis_tvalid,
    input  logic                       m_axis_tready,
    output logic                       m_axis_tlast
);
  localparam int XE_W = X_W + 1;                    // activation as signed
  localparam int WE_W = W_W + 1;                    // weight as signed
  localparam int P_W = XE_W + WE_W;                 // product width
  localparam int ACC_UP = (HAS_RES && RES_ALIGN < 0) ? -RES_ALIGN : 0;  // accumulator << this
  localparam int RES_UP = (HAS_RES && RES_ALIGN > 0) ? RES_ALIGN : 0;    // residual << this
  localparam int AB_W = ((ACC_W > BIAS_W) ? ACC_W : BIAS_W) + 1;         // acc + bias
  localparam int EPI_W1 = (AB_W + ACC_UP > RES_W + RES_UP) ? AB_W + ACC_UP : RES_W + RES_UP;
  localparam int EPI_W = EPI_W1 + 1;                // (acc + bias) << ACC_UP + res << RES_UP, exact
  localparam int RQ_SHIFT = SHIFT + ACC_UP;         // the sum has frac f_acc + ACC_UP

  // ---- stage A: MAC ----------------------------------------------------------------------------
  logic epi_valid;                                  // stage B register holds an accumulator
  logic epi_fire;                                   // stage B hands its value on this cycle
  logic epi_free;
  logic mac_fire;
  logic first;                                      // next beat starts a new accumulation
  logic signed [ACC_W-1:0] acc[PE];
  logic signed [ACC_W-1:0] acc_next[PE];
  logic signed [ACC_W-1:0] epi_acc[PE];
  logic epi_last;

  assign epi_free = !epi_valid || epi_fire;
  // A beat is taken when both operands are there; the last beat of an accumulation also needs
  // room in the epilogue register.
  assign s_axis_x_tready = s_axis_w_tvalid && (!s_axis_x_tlast || epi_free);
  assign s_axis_w_tready = s_axis_x_tvalid && (!s_axis_x_tlast || epi_free);
  assign mac_fire = s_axis_x_tvalid && s_axis_x_tready;

  for (genvar p = 0; p < PE; p++) begin : g_pe
    logic signed [P_W-1:0] prod[SIMD];
    for (genvar s = 0; s < SIMD; s++) begin : g_simd
      logic signed [XE_W-1:0] xe;
      logic signed [WE_W-1:0] we;
      assign xe = X_SIGNED ? $signed({s_axis_x_tdata[s*X_W+X_W-1], s_axis_x_tdata[s*X_W+:X_W]})
                           : $signed({1'b0, s_axis_x_tdata[s*X_W+:X_W]});
      assign we = W_SIGNED ? $signed({s_axis_w_tdata[(p*SIMD+s)*W_W+W_W-1],
                                      s_axis_w_tdata[(p*SIMD+s)*W_W+:W_W]})
                           : $signed({1'b0, s_axis_w_tdata[(p*SIMD+s)*W_W+:W_W]});
      assign prod[s] = P_W'(xe) * P_W'(we);
    end
    always_comb begin : p_dot
      logic signed [ACC_W-1:0] sum;
      sum = first ? '0 : acc[p];
      for (int s = 0; s < SIMD; s++) begin
        sum = sum + ACC_W'(prod[s]);
      end
      acc_next[p] = sum;
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      first <= 1'b1;
    end else if (mac_fire) begin
      first <= s_axis_x_tlast;
    end
  end

  always_ff @(posedge clk) begin
    if (mac_fire) begin
      for (int p = 0; p < PE; p++) begin
        acc[p] <= acc_next[p];
      end
    end
  end

  // ---- stage B: epilogue (bias, residual, requantise, optional table) -------------------------
  logic out_free;
  logic bias_ok, res_ok;

  assign bias_ok = !HAS_BIAS || s_axis_b_tvalid;
  assign res_ok = !HAS_RES || s_axis_r_tvalid;
  assign epi_fire = epi_valid && bias_ok && res_ok && out_free;
  assign s_axis_b_tready = HAS_BIAS && epi_valid && res_ok && out_free;
  assign s_axis_r_tready = HAS_RES && epi_valid && bias_ok && out_free;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      epi_valid <= 1'b0;
    end else if (mac_fire && s_axis_x_tlast) begin
      epi_valid <= 1'b1;
    end else if (epi_fire) begin
      epi_valid <= 1'b0;
    end
  end

  always_ff @(posedge clk) begin
    if (mac_fire && s_axis_x_tlast) begin
      for (int p = 0; p < PE; p++) begin
        epi_acc[p] <= acc_next[p];
      end
      epi_last <= s_axis_x_tuser;
    end
  end

  logic [PE*OUT_W-1:0] q;
  for (genvar p = 0; p < PE; p++) begin : g_epi
    logic signed [EPI_W-1:0] e;
    logic signed [AB_W-1:0] b_term, ab;
    logic signed [EPI_W-1:0] r_term;
    if (HAS_BIAS) begin : g_bias
      assign b_term = AB_W'($signed(s_axis_b_tdata[p*BIAS_W+:BIAS_W]));
    end else begin : g_no_bias
      assign b_term = '0;
    end
    if (HAS_RES) begin : g_res
      assign r_term = EPI_W'($signed(s_axis_r_tdata[p*RES_W+:RES_W])) <<< RES_UP;
    end else begin : g_no_res
      assign r_term = '0;
    end
    assign ab = AB_W'(epi_acc[p]) + b_term;
    assign e = (EPI_W'(ab) <<< ACC_UP) + r_term;
    spvit_requant #(
        .IN_W(EPI_W),
        .IN_SIGNED(1'b1),
        .SHIFT(RQ_SHIFT),
        .OUT_W(OUT_W),
        .OUT_SIGNED(OUT_SIGNED)
    ) u_rq (
        .x(e),
        .y(q[p*OUT_W+:OUT_W])
    );
  end

  // ---- stage C: output register (the table ROM's read register when HAS_TABLE) ---------------
  assign out_free = !m_axis_tvalid || m_axis_tready;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      m_axis_tvalid <= 1'b0;
    end else if (out_free) begin
      m_axis_tvalid <= epi_fire;
    end
  end

  always_ff @(posedge clk) begin
    if (epi_fire) begin
      m_axis_tlast <= epi_last;
    end
  end

  if (HAS_TABLE) begin : g_table
    for (genvar p = 0; p < PE; p++) begin : g_rom
      logic [OUT_W-1:0] index;
      if (OUT_SIGNED) begin : g_idx_signed
        assign index = q[p*OUT_W+:OUT_W] ^ {1'b1, {(OUT_W - 1) {1'b0}}};
      end else begin : g_idx_unsigned
        assign index = q[p*OUT_W+:OUT_W];
      end
      spvit_rom #(
          .DEPTH(1 << OUT_W),
          .DATA_W(TABLE_W),
          .ADDR_W(OUT_W),
          .INIT_FILE(TABLE_FILE)
      ) u_rom (
          .clk(clk),
          .en(epi_fire),
          .addr(index),
          .data(m_axis_tdata[p*Y_W+:Y_W])
      );
    end
  end else begin : g_no_table
    always_ff @(posedge clk) begin
      if (epi_fire) begin
        m_axis_tdata <= q;
      end
    end
  end

  // Ports a configuration does not use (bias/residual data without HAS_BIAS/HAS_RES).
  logic unused_ok;
  assign unused_ok = &{1'b0, s_axis_b_tdata, s_axis_r_tdata};
endmodule
