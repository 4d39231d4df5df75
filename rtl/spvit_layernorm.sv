// spvit_layernorm: integer LayerNorm over C channels of one token (intops.int_layernorm).
//
//   S   = sum_i x_i,  Q = sum_i x_i^2                            (pass 1, while the token arrives)
//   V   = C * (C*Q - S^2) + EPS_INT                             (= sum_i d_i^2 + eps_int, exact)
//   L   = bit length of V;  k = ceil((L - M) / 2)
//   m   = V >> 2k (k >= 0) or V << -2k;  t = T[m - 2^(M-2)]     (spvit_rom, intops.rsqrt_table)
//   d_i = C*x_i - S
//   n_i = sat_NORM( round_shift(d_i * t, R + k - NORM_FRAC) )   (spvit_requant_var); 0 if V == 0
//   y_i = requant( gamma_i * n_i + beta_i, OUT_SHIFT, OUT )     (spvit_requant)
//
// Input: one channel a beat (IN_W bits, signed), C beats a token (counted; tlast is not needed).
// gamma_i / beta_i arrive on s_axis_gb ({beta, gamma}, one beat per output channel) so one
// instance can serve several LayerNorms of the same width.  Output: one channel a beat, tlast on
// channel C-1.  The register widths SUM_W, DEV_W, VAR_W and the constants EPS_INT, R and the
// table come from intops.layernorm_params (exact worst-case bounds).
// Cycles per token, without stalls (checked by rtl_sim/tb_layernorm.py): 2*C + 6
// (C receive, 4 variance / rsqrt, C + 2 normalise).
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
    parameter bit          OUT_SIGNED = 1'b1          // output signed
) (
    input  logic                    clk,
    input  logic                    rst_n,
    input  logic [IN_W-1:0]         s_axis_tdata,
    input  logic                    s_axis_tvalid,
    output logic                    s_axis_tready,
    input  logic                    s_axis_tlast,
    input  logic [BETA_W+G_W-1:0]   s_axis_gb_tdata,   // {beta_i, gamma_i}
    input  logic                    s_axis_gb_tvalid,
    output logic                    s_axis_gb_tready,
    output logic [OUT_W-1:0]        m_axis_tdata,
    output logic                    m_axis_tvalid,
    input  logic                    m_axis_tready,
    output logic                    m_axis_tlast
);
  localparam int CB = $clog2(C + 1);                      // bits of the constant C
  localparam int A_W = (C > 1) ? $clog2(C) : 1;           // buffer address
  localparam int CNT_W = $clog2(C + 1);
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
    RECV,
    VAR1,
    VAR2,
    NORM,
    TBL,
    OUT
  } state_t;
  state_t state;

  // ---- pass 1: buffer, sum, sum of squares ----------------------------------------------------
  logic [IN_W-1:0] buf_mem[C];
  logic [CNT_W-1:0] cnt_in;
  logic signed [SUM_W-1:0] s_sum;
  logic [SQ_W-1:0] q_sum;
  logic recv_fire;
  logic signed [IN_W-1:0] x_in;
  logic [2*IN_W-1:0] x_sq;

  assign s_axis_tready = (state == RECV);
  assign recv_fire = s_axis_tvalid && s_axis_tready;
  assign x_in = s_axis_tdata;
  assign x_sq = $unsigned((2 * IN_W)'(x_in) * (2 * IN_W)'(x_in));  // x^2 <= 2^(2 IN_W - 2)

  always_ff @(posedge clk) begin
    if (recv_fire) begin
      buf_mem[A_W'(cnt_in)] <= s_axis_tdata;
    end
  end

  // ---- variance and the rsqrt lookup ---------------------------------------------------------
  logic [WW-1:0] cq, s2;                                  // C*Q and S^2
  logic [VAR_W-1:0] v;
  logic [LW-1:0] len;
  logic signed [K_W-1:0] k, k_r;
  logic [VAR_W+2*M-1:0] mant_full;
  logic [IDX_W-1:0] idx;
  logic v_zero;
  logic [T_W-1:0] t_rom;
  logic [T_W-1:0] t;

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
  assign rom_en = (state == NORM);  // a named wire: Icarus mis-evaluates compares in port lists

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
  logic [CNT_W-1:0] issued, sent;
  logic rd_valid, n_valid;
  logic adv_n, adv_rd, issue, aff_fire, out_free;
  logic [IN_W-1:0] x_rd;
  logic signed [K_W-1:0] sh;
  logic signed [DX_W-1:0] dx;
  logic signed [DEV_W-1:0] d;
  logic signed [PROD_W-1:0] prod;
  logic [NORM_W-1:0] n_val, n_r;
  logic signed [G_W-1:0] gamma;
  logic signed [BETA_W-1:0] beta;
  logic signed [AFF_W-1:0] aff;
  logic [OUT_W-1:0] y;

  assign out_free = !m_axis_tvalid || m_axis_tready;
  assign aff_fire = n_valid && s_axis_gb_tvalid && out_free;
  assign s_axis_gb_tready = n_valid && out_free;
  assign adv_n = !n_valid || aff_fire;
  assign adv_rd = !rd_valid || adv_n;
  assign issue = (state == OUT) && adv_rd && (issued != CNT_W'(C));

  always_ff @(posedge clk) begin
    if (adv_rd) begin
      x_rd <= buf_mem[A_W'(issued)];
    end
  end

  assign sh = k_r + K_W'(R - NORM_FRAC);
  assign dx = DX_W'(C) * DX_W'($signed(x_rd)) - DX_W'(s_sum);
  assign d = DEV_W'(dx);                                  // |C x - S| < 2^(DEV_W-1)
  assign prod = PROD_W'(d) * PROD_W'($signed({1'b0, t}));

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
      .y(n_val)
  );

  assign gamma = s_axis_gb_tdata[G_W-1:0];
  assign beta = s_axis_gb_tdata[BETA_W+G_W-1:G_W];
  assign aff = AFF_W'(gamma) * AFF_W'($signed(n_r)) + AFF_W'(beta);

  spvit_requant #(
      .IN_W(AFF_W),
      .IN_SIGNED(1'b1),
      .SHIFT(OUT_SHIFT),
      .OUT_W(OUT_W),
      .OUT_SIGNED(OUT_SIGNED)
  ) u_out (
      .x(aff),
      .y(y)
  );

  // ---- control and registers -------------------------------------------------------------------
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      state <= RECV;
      cnt_in <= '0;
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
      if (recv_fire) begin
        cnt_in <= (cnt_in == CNT_W'(C - 1)) ? '0 : cnt_in + 1'b1;
      end
      unique case (state)
        RECV: if (recv_fire && cnt_in == CNT_W'(C - 1)) state <= VAR1;
        VAR1: state <= VAR2;
        VAR2: state <= NORM;
        NORM: state <= TBL;
        TBL: state <= OUT;
        OUT: if (aff_fire && sent == CNT_W'(C - 1)) state <= RECV;
        default: state <= RECV;
      endcase
    end
  end

  always_ff @(posedge clk) begin
    unique case (state)
      RECV: begin
        issued <= '0;
        sent <= '0;
        if (recv_fire) begin
          s_sum <= (cnt_in == '0 ? '0 : s_sum) + SUM_W'(x_in);
          q_sum <= (cnt_in == '0 ? '0 : q_sum) + SQ_W'(x_sq);
        end
      end
      VAR1: begin
        cq <= WW'(C) * WW'(q_sum);
        s2 <= $unsigned(WW'(s_sum) * WW'(s_sum));
      end
      VAR2: begin
        v <= VAR_W'(WW'(C) * (cq - s2)) + VAR_W'(EPS_INT);  // exact: V < 2^VAR_W
      end
      NORM: begin
        k_r <= k;
        v_zero <= (v == '0);
      end
      TBL: begin
        t <= v_zero ? '0 : t_rom;
      end
      OUT: begin
        if (issue) begin
          issued <= issued + 1'b1;
        end
        if (aff_fire) begin
          sent <= sent + 1'b1;
        end
      end
      default: ;
    endcase
    if (adv_n && rd_valid) begin
      n_r <= n_val;
    end
    if (aff_fire) begin
      m_axis_tdata <= y;
      m_axis_tlast <= (sent == CNT_W'(C - 1));
    end
  end

  // tlast of the input is not needed (C is known); high mantissa bits are zero by construction.
  logic unused_ok;
  assign unused_ok = &{1'b0, s_axis_tlast, mant_full[VAR_W+2*M-1:M], dx};
endmodule
