// spvit_layernorm: integer LayerNorm over C channels of one token (intops.int_layernorm),
// LANES channels a beat.
//
//   S   = sum_i x_i,  Q = sum_i x_i^2                            (pass 1, while the token arrives)
//   V   = C * (C*Q - S^2) + EPS_INT                             (= sum_i d_i^2 + eps_int, exact)
//   L   = bit length of V;  k = ceil((L - M) / 2)
//   m   = V >> 2k (k >= 0) or V << -2k;  t = T[m - 2^(M-2)]     (spvit_rom, intops.rsqrt_table)
//   d_i = C*x_i - S
//   n_i = sat_NORM( round_shift(d_i * t, R + k - NORM_FRAC) )   (spvit_requant_var); 0 if V == 0
//   y_i = requant( gamma_i * n_i + beta_i, OUT_SHIFT, OUT )     (spvit_requant)
//
// Input: LANES channels a beat (lane l of beat b = channel b*LANES + l, IN_W bits signed), C/LANES
// beats a token (counted; tlast is not needed).  The beat's LANES values and squares are added by
// balanced adder trees into S and Q.  gamma_i / beta_i arrive on s_axis_gb, one beat of LANES
// pairs per output beat (lane l = {beta, gamma} of channel b*LANES + l, BETA_W + G_W bits), so one
// instance can serve several LayerNorms of the same width.  Output: LANES channels a beat (LANES
// normalise / affine lanes), tlast on the token's last beat.  The register widths SUM_W, DEV_W,
// VAR_W and the constants EPS_INT, R and the table come from intops.layernorm_params (exact
// worst-case bounds).  Stages: receive (S, Q, token into a buffer bank) -> variance / rsqrt (4
// cycles) -> normalise (buffer read, d * t and shift, gamma * n + beta and requantise: 3 stages).
//
// Cycles per token, P = C/LANES, without stalls (checked by rtl_sim/tb_layernorm.py):
//   OVERLAP = 0: 2*P + 6 (P receive, 4 variance / rsqrt, P + 2 normalise; the next token is taken
//                after this one's last output beat).  T tokens: T*(2P + 6) from the first input
//                beat to the last output beat.
//   OVERLAP = 1: max(P, 5).  Two buffer banks: the next token is received (and its S, Q, variance
//                and rsqrt computed) while this one is normalised; a token's beat b may be written
//                into a bank once the normalise pass of that bank's previous token has read beat b,
//                and the variance stage takes one token at a time (4 cycles: hence 5).  T tokens:
//                (T-1)*max(P, 5) + 2P + 6.
// Preconditions: LANES divides C.
// DSP-type multipliers: LANES (x^2) + 1 (S^2) + LANES (d * t) + LANES (gamma * n); C*Q, C*x and
// C*(CQ - S^2) are by the constant C.
module spvit_layernorm #(
    parameter int          C          = 192,          // channels
    parameter int          IN_W       = 16,           // input width (residual stream)
    parameter int          SUM_W      = 24,           // layernorm_params.sum_bits
    parameter int          DEV_W      = 25,           // layernorm_params.dev_bits
    parameter int          VAR_W      = 53,           // layernorm_params.var_bits
    parameter logic [63:0] EPS_INT    = 64'd463856,   // layernorm_params.eps_int
    parameter int          M          = 10,           // mantissa bits (table 3 * 2^(M-2) entries)
    parameter int          T_W        = 16,           // rsqrt table entry width
    parameter int          R          = 16,           // layernorm_params.rsqrt_shift
    parameter              RSQRT_FILE = "rsqrt.hex",  // $readmemh of layernorm_params.table
    parameter int          NORM_W     = 16,           // normalised value width (norm_fmt.bits)
    parameter int          NORM_FRAC  = 10,           // normalised value frac (norm_fmt.frac)
    parameter int          G_W        = 8,            // gamma width
    parameter int          BETA_W     = 32,           // beta width (frac f_g + NORM_FRAC)
    parameter int          OUT_SHIFT  = 14,           // f_g + NORM_FRAC - f_out
    parameter int          OUT_W      = 8,            // output width
    parameter bit          OUT_SIGNED = 1'b1,         // output signed
    parameter int          LANES      = 1,            // channels a beat (divides C)
    parameter bit          OVERLAP    = 1'b0          // 1: two buffer banks, receive overlaps normalise
) (
    input  logic                              clk,
    input  logic                              rst_n,
    input  logic [LANES*IN_W-1:0]             s_axis_tdata,      // LANES channels x
    input  logic                              s_axis_tvalid,
    output logic                              s_axis_tready,
    input  logic                              s_axis_tlast,
    input  logic [LANES*(BETA_W+G_W)-1:0]     s_axis_gb_tdata,   // LANES x {beta_i, gamma_i}
    input  logic                              s_axis_gb_tvalid,
    output logic                              s_axis_gb_tready,
    output logic [LANES*OUT_W-1:0]            m_axis_tdata,      // LANES channels y
    output logic                              m_axis_tvalid,
    input  logic                              m_axis_tready,
    output logic                              m_axis_tlast
);
  localparam int P = C / LANES;                           // beats a token
  localparam int NB = OVERLAP ? 2 : 1;                    // buffer banks
  localparam int BA_W = (NB * P > 1) ? $clog2(NB * P) : 1;  // buffer address
  localparam int PC_W = $clog2(P + 1);                    // beat counters 0..P
  localparam int GB_W = BETA_W + G_W;
  localparam int LP2 = 1 << $clog2(LANES);                // adder tree leaves
  localparam int CB = $clog2(C + 1);                      // bits of the constant C
  localparam int SQ_W = 2 * IN_W - 1 + CB;                // sum of squares (unsigned)
  localparam int WW = ((2 * SUM_W > VAR_W) ? 2 * SUM_W : VAR_W) + CB + 1;  // C*Q, S^2, C*(CQ-S^2)
  localparam int DEPTH = 3 << (M - 2);                    // rsqrt table entries
  localparam int IDX_W = $clog2(DEPTH);
  localparam int K_W = 8;                                 // k and the shift, signed
  localparam int K_MIN = (1 - M + 1) >>> 1;               // ceil((1 - M) / 2)      (L >= 1)
  localparam int K_MAX = (VAR_W - M + 1) >>> 1;           // ceil((VAR_W - M) / 2)
  localparam int SH_MIN = R + K_MIN - NORM_FRAC;
  localparam int SH_MAX = R + K_MAX - NORM_FRAC;
  localparam int DX_W = (SUM_W > IN_W + CB) ? SUM_W + 2 : IN_W + CB + 2;  // C*x - S, with room
  localparam int PROD_W = DEV_W + T_W + 1;                // d * t
  localparam int GN_W = G_W + NORM_W;
  localparam int AFF_W = ((GN_W > BETA_W) ? GN_W : BETA_W) + 1;  // gamma * n + beta
  localparam int LW = $clog2(VAR_W + 1);                  // bit length of V

  typedef enum logic [2:0] {
    B_IDLE,
    VAR1,
    VAR2,
    NORM,
    TBL
  } bstate_t;
  bstate_t b_state;

  // ---- pass 1: buffer, sum, sum of squares ----------------------------------------------------
  logic [LANES*IN_W-1:0] buf_mem[NB*P];
  logic [PC_W-1:0] a_cnt;                                 // beat of the token being received
  logic a_bank;                                           // its bank (0 when NB == 1)
  logic [NB-1:0] bank_full;                               // bank holds a token not yet read
  logic a_room, a_last, recv_fire;
  logic signed [SUM_W-1:0] s_sum;
  logic [SQ_W-1:0] q_sum;
  logic [PC_W-1:0] issued;                                // normalise pass: beats read
  logic c_busy, c_bank;

  assign a_last = (a_cnt == PC_W'(P - 1));
  if (OVERLAP) begin : g_room_overlap
    // the bank is free, or its previous token's normalise pass has read this beat already
    assign a_room = !bank_full[a_bank] || (c_busy && c_bank == a_bank && a_cnt < issued);
  end else begin : g_room_single
    assign a_room = !bank_full[0];
  end
  assign s_axis_tready = a_room && (!a_last || b_state == B_IDLE);
  assign recv_fire = s_axis_tvalid && s_axis_tready;

  always_ff @(posedge clk) begin
    if (recv_fire) begin
      buf_mem[BA_W'(32'(a_bank) * P + 32'(a_cnt))] <= s_axis_tdata;
    end
  end

  // the beat's values and squares, summed by balanced adder trees (pairwise halving; the sums fit
  // SUM_W / SQ_W, so the element-wise wrap-around additions are exact)
  logic [LANES*SQ_W-1:0] x_sq;
  logic [SUM_W-1:0] beat_s;
  logic [SQ_W-1:0] beat_q;

  for (genvar l = 0; l < LANES; l++) begin : g_sq
    logic signed [2*IN_W-1:0] xe;
    assign xe = (2 * IN_W)'($signed(s_axis_tdata[l*IN_W+:IN_W]));
    assign x_sq[l*SQ_W+:SQ_W] = SQ_W'($unsigned(xe * xe));  // x^2 <= 2^(2 IN_W - 2)
  end

  always_comb begin : p_trees
    logic [LP2*SUM_W-1:0] ts;
    logic [LP2*SQ_W-1:0] tq;
    ts = '0;
    tq = '0;
    for (int i = 0; i < LANES; i++) begin
      ts[i*SUM_W+:SUM_W] = SUM_W'($signed(s_axis_tdata[i*IN_W+:IN_W]));
      tq[i*SQ_W+:SQ_W] = x_sq[i*SQ_W+:SQ_W];
    end
    for (int w = LP2 / 2; w >= 1; w = w / 2) begin
      for (int i = 0; i < w; i++) begin
        ts[i*SUM_W+:SUM_W] = ts[2*i*SUM_W+:SUM_W] + ts[(2*i+1)*SUM_W+:SUM_W];
        tq[i*SQ_W+:SQ_W] = tq[2*i*SQ_W+:SQ_W] + tq[(2*i+1)*SQ_W+:SQ_W];
      end
    end
    beat_s = ts[SUM_W-1:0];
    beat_q = tq[SQ_W-1:0];
  end

  // ---- variance and the rsqrt lookup ---------------------------------------------------------
  logic [WW-1:0] cq, s2;                                  // C*Q and S^2
  logic [VAR_W-1:0] v;
  logic [LW-1:0] len;
  logic signed [K_W-1:0] k, k_b;
  logic [VAR_W+2*M-1:0] mant_full;
  logic [IDX_W-1:0] idx;
  logic v_zero, b_bank;
  logic signed [SUM_W-1:0] s_b;
  logic [T_W-1:0] t_rom;

  always_comb begin : p_bit_length
    len = '0;
    for (int i = 0; i < VAR_W; i++) begin
      if (v[i]) begin
        len = LW'(i + 1);
      end
    end
  end
  // k = ceil((L - M) / 2) = floor((L - M + 1) / 2)
  assign k = ($signed(K_W'(len)) - K_W'(M) + K_W'(1)) >>> 1;
  // mantissa in [2^(M-2), 2^M): V >> 2k, or V << -2k (V is placed M bits up so both are shifts)
  assign mant_full = ({v, {(2 * M) {1'b0}}} >> (2 * k + 2 * M));
  assign idx = IDX_W'(mant_full[M-1:0] - M'(1 << (M - 2)));

  logic rom_en;
  assign rom_en = (b_state == NORM);  // a named wire: Icarus mis-evaluates compares in port lists

  spvit_rom #(
      .DEPTH(DEPTH),
      .DATA_W(T_W),
      .ADDR_W(IDX_W),
      .INIT_FILE(RSQRT_FILE)
  ) u_rsqrt (
      .clk(clk),
      .en(rom_en),
      .addr(idx),
      .data(t_rom)
  );

  // ---- pass 2: normalise, affine, requantise ---------------------------------------------------
  logic [PC_W-1:0] sent;
  logic rd_valid, n_valid;
  logic adv_n, adv_rd, issue, c_last, c_free, c_load, aff_fire, out_free, out_last;
  logic signed [SUM_W-1:0] s_n, s_rd;                     // S of the token being read / in stage rd
  logic signed [K_W-1:0] k_n, k_rd;
  logic [T_W-1:0] t_n, t_rd;
  logic [LANES*IN_W-1:0] x_rd;
  logic signed [K_W-1:0] sh;
  logic [LANES*NORM_W-1:0] n_val, n_r;
  logic [LANES*OUT_W-1:0] y;

  assign out_free = !m_axis_tvalid || m_axis_tready;
  assign aff_fire = n_valid && s_axis_gb_tvalid && out_free;
  assign s_axis_gb_tready = n_valid && out_free;
  assign adv_n = !n_valid || aff_fire;
  assign adv_rd = !rd_valid || adv_n;
  assign issue = c_busy && adv_rd;
  assign c_last = (issued == PC_W'(P - 1));
  assign c_free = !c_busy || (issue && c_last);
  assign c_load = (b_state == TBL) && c_free;
  assign out_last = (sent == PC_W'(P - 1));

  always_ff @(posedge clk) begin
    if (issue) begin
      x_rd <= buf_mem[BA_W'(32'(c_bank) * P + 32'(issued))];
      s_rd <= s_n;
      k_rd <= k_n;
      t_rd <= t_n;
    end
  end

  assign sh = k_rd + K_W'(R - NORM_FRAC);

  for (genvar l = 0; l < LANES; l++) begin : g_lane
    logic signed [DX_W-1:0] dx;
    logic signed [DEV_W-1:0] d;
    logic signed [PROD_W-1:0] prod;
    logic signed [G_W-1:0] gamma;
    logic signed [BETA_W-1:0] beta;
    logic signed [AFF_W-1:0] aff;

    assign dx = DX_W'(C) * DX_W'($signed(x_rd[l*IN_W+:IN_W])) - DX_W'(s_rd);
    assign d = DEV_W'(dx);                                // |C x - S| < 2^(DEV_W-1)
    assign prod = PROD_W'(d) * PROD_W'($signed({1'b0, t_rd}));

    spvit_requant_var #(
        .IN_W(PROD_W),
        .SH_W(K_W),
        .SH_MIN(SH_MIN),
        .SH_MAX(SH_MAX),
        .OUT_W(NORM_W),
        .OUT_SIGNED(1'b1)
    ) u_norm (
        .x(prod),
        .sh(sh),
        .y(n_val[l*NORM_W+:NORM_W])
    );

    assign gamma = s_axis_gb_tdata[l*GB_W+:G_W];
    assign beta = s_axis_gb_tdata[l*GB_W+G_W+:BETA_W];
    assign aff = AFF_W'(gamma) * AFF_W'($signed(n_r[l*NORM_W+:NORM_W])) + AFF_W'(beta);

    spvit_requant #(
        .IN_W(AFF_W),
        .IN_SIGNED(1'b1),
        .SHIFT(OUT_SHIFT),
        .OUT_W(OUT_W),
        .OUT_SIGNED(OUT_SIGNED)
    ) u_out (
        .x(aff),
        .y(y[l*OUT_W+:OUT_W])
    );

    // the top bits of C x - S are sign copies (|C x - S| < 2^(DEV_W-1))
    logic unused_dx;
    assign unused_dx = &{1'b0, dx};
  end

  // ---- control and registers -------------------------------------------------------------------
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      b_state <= B_IDLE;
      a_cnt <= '0;
      a_bank <= 1'b0;
      bank_full <= '0;
      c_busy <= 1'b0;
      sent <= '0;
      rd_valid <= 1'b0;
      n_valid <= 1'b0;
      m_axis_tvalid <= 1'b0;
    end else begin
      if (adv_rd) begin
        rd_valid <= issue;
      end
      if (adv_n) begin
        n_valid <= rd_valid;
      end
      if (out_free) begin
        m_axis_tvalid <= aff_fire;
      end
      if (aff_fire) begin
        sent <= out_last ? '0 : sent + 1'b1;
      end
      // a bank is released when its token has been read (OVERLAP) or has left (no overlap)
      if (OVERLAP) begin
        if (issue && c_last) begin
          bank_full[c_bank] <= 1'b0;
        end
      end else if (aff_fire && out_last) begin
        bank_full[0] <= 1'b0;
      end
      if (issue && c_last) begin
        c_busy <= 1'b0;
      end
      if (c_load) begin
        c_busy <= 1'b1;                                   // after the clear: next token
      end
      if (recv_fire) begin
        a_cnt <= a_last ? '0 : a_cnt + 1'b1;
        if (a_last) begin
          bank_full[a_bank] <= 1'b1;
          a_bank <= OVERLAP ? !a_bank : 1'b0;
        end
      end
      unique case (b_state)
        B_IDLE: if (recv_fire && a_last) b_state <= VAR1;
        VAR1: b_state <= VAR2;
        VAR2: b_state <= NORM;
        NORM: b_state <= TBL;
        TBL: if (c_free) b_state <= B_IDLE;
        default: b_state <= B_IDLE;
      endcase
    end
  end

  always_ff @(posedge clk) begin
    if (recv_fire) begin
      s_sum <= (a_cnt == '0 ? '0 : s_sum) + $signed(beat_s);
      q_sum <= (a_cnt == '0 ? '0 : q_sum) + beat_q;
      if (a_last) begin
        b_bank <= a_bank;
      end
    end
    unique case (b_state)
      VAR1: begin
        cq <= WW'(C) * WW'(q_sum);
        s2 <= $unsigned(WW'(s_sum) * WW'(s_sum));
        s_b <= s_sum;
      end
      VAR2: begin
        v <= VAR_W'(WW'(C) * (cq - s2)) + VAR_W'(EPS_INT);  // exact: V < 2^VAR_W
      end
      NORM: begin
        k_b <= k;
        v_zero <= (v == '0);
      end
      default: ;
    endcase
    if (c_load) begin
      s_n <= s_b;
      k_n <= k_b;
      t_n <= v_zero ? '0 : t_rom;
      c_bank <= b_bank;
      issued <= '0;
    end else if (issue) begin
      issued <= issued + 1'b1;
    end
    if (adv_n && rd_valid) begin
      n_r <= n_val;
    end
    if (aff_fire) begin
      m_axis_tdata <= y;
      m_axis_tlast <= out_last;
    end
  end

  // tlast of the input is not needed (C is known); high mantissa bits are zero by construction.
  logic unused_ok;
  assign unused_ok = &{1'b0, s_axis_tlast, mant_full[VAR_W+2*M-1:M]};
endmodule
