// spvit_ov_layernorm: the overlay engine's LayerNorm unit (instruction LAYERNORM), configured at
// run time: rows of the residual buffer XB -> int8 rows of an activation bank (AM).
//
// Per sub-row of C = P*L channels x_0 .. x_(C-1) (intops.int_layernorm_normalize, then
// intops.requantize of the affine result, exactly):
//   S   = sum_i x_i,  Q = sum_i x_i^2                          (receive pass, one XB word a cycle)
//   V   = C * (C*Q - S^2) + eps_int                            (= sum_i (C x_i - S)^2 + eps_int)
//   k   = ceil((bitlen(V) - M) / 2);  m = V >> 2k (V << -2k);  t = T[m - 2^(M-2)]  (0 if V = 0)
//   d_i * t = (C*t) * x_i - S*t                                (one DSP a lane)
//   n_i = sat_norm( round_shift(d_i * t, R + k - f_norm) )
//   y_i = sat_out( round_shift(gamma_i * n_i + beta_i, out_shift) )   (one DSP a lane)
// round_shift rounds half to even (a shift <= 0 is an exact left shift); sat_* clamp to the run-time
// formats (norm: signed cfg_norm_bits; out: cfg_out_bits, signed or unsigned).
//
// Operand layout.  Row r of the instruction is XB words cfg_src_base + r*(heads*P) .. (the residual
// row); with cfg_heads = H > 1 a row is H sub-rows of P words each (the selector's per-head
// LayerNorm), sub-row j = r*H + h being words cfg_src_base + j*P ..  (so the unit reads
// rows*H*P consecutive words).  Sub-row j is written to AM words cfg_dst_base + j*cfg_dst_stride
// + 0 .. P-1, all L lanes (lane l of word w = channel w*L + l, 8-bit lanes holding the value's low
// 8 bits).  The XB read port and the AM write port are the ones of the bank the top routes to the
// unit (one read port, one write port).
//
// Param blob (spvit_fpga/hw/overlay/layout.py add_layernorm), popped first, in this order, each
// part padded to whole beats: the rsqrt table (3*2^(M-2) entries, 16-bit lanes, unsigned), gamma
// (C x 16-bit lanes, signed), beta (C x 32-bit lanes, signed).  Beats:
//   NB = ceil(2*NT/SB) + ceil(2*C/SB) + ceil(4*C/SB),   NT = 3*2^(M-2).
// The blob is stored in three small RAMs (spvit_ov_layernorm_pram); rows start after the last beat.
//
// Pipeline (throughput one XB word a cycle, also for P = 1): receive (XB read, x^2 in a DSP a
// lane, registered adder trees for the word's sum and sum of squares, accumulation over the
// sub-row's P words; the words also go into a delay buffer) -> per-sub-row scalar pipeline (26
// stages, accepts a sub-row every cycle: C*Q and S^2, C*(CQ - S^2) + eps, bit length, mantissa
// shift, table read, C*t and -S*t) -> normalise (delay-buffer read, d*t DSP, run-time
// requantiser, gamma*n + beta DSP, run-time requantiser, AM write).  After the blob is loaded the
// schedule is static (no stream input, no back-pressure).
//
// Cycle formula (start = the cycle start is high; done = the cycle done is high; param stream
// never stalling; J = rows * heads sub-rows; checked exactly by rtl_sim/tb_ov_layernorm.py):
//   cycles = NB + (J + 1) * P + 45 + log2(L)
// (NB beats popped one a cycle from the cycle after start, then J*P words read one a cycle; the
// last sub-row is normalised P cycles after its last word plus the pipeline's 45 + log2 L
// cycles).  With rows = 0: NB + 1.  Param-stream stalls delay the rows cycle for cycle.
//
// DSP48E2: 3 a lane (x^2; (C*t) * x - S*t; gamma * n + beta) plus the scalar path, one per
// spvit_ov_layernorm_mul piece (ceil(AW/26) * ceil(BW/17) each): C*Q 2, S^2 1-2, C*(CQ - S^2)
// 2-3, C*t 1, |S|*t 1; every one with its input (A/B), M and P registers (the lane DSPs also
// with C).  Yosys synth_xilinx (0.70) of the DeiT-S size (L = 64, SB = 64, P_MAX = 6, VAR_W = 56):
// 200 DSP48E2 (3L + 8), 34.7 k LUT (most in the two run-time requantisers a lane), 33.8 k FF,
// 3.3 k SRL, 406 LUT-RAM, no BRAM; at L = 8: 32 DSP, 5.7 k LUT.  Longest chains in the L = 8
// netlist (structural, Yosys ltp): 6 LUTs between registers/carry chains; the longest path by
// cell count is the 56-bit V = C*D + eps adder (1 LUT + the carry chain).
// Preconditions: L, SB powers of two, L >= 2; 1 <= cfg_p <= P_MAX; cfg_heads >= 1;
// C*(2^T_W - 1) < 2^26 (C*t fits the DSP's 27-bit port: C < 1024 with a 16-bit table);
// R + k - f_norm in [SH_MIN, SH_MAX] for every k in [ceil((1-M)/2), ceil((VAR_W-M)/2)];
// cfg_out_shift in [OSH_MIN, OSH_MAX]; 1 <= cfg_norm_bits <= NORM_W; 1 <= cfg_out_bits <= 8
// (2 if signed); SUM_W, DEV_W, VAR_W bound every LayerNorm run (intops.layernorm_params:
// sum_bits, dev_bits, var_bits, maxima over the model); the eps_int fits VAR_W; a start is
// ignored while busy.
module spvit_ov_layernorm #(
    parameter int L       = 8,    // lanes a word (power of two)
    parameter int X_W     = 16,   // residual lane width (XB)
    parameter int SB      = 32,   // bytes a param-stream beat (power of two)
    parameter int P_MAX   = 8,    // most words a sub-row (C <= P_MAX * L)
    parameter int SUM_W   = 24,   // max layernorm_params.sum_bits
    parameter int DEV_W   = 25,   // max layernorm_params.dev_bits
    parameter int VAR_W   = 53,   // max layernorm_params.var_bits
    parameter int M       = 10,   // rsqrt mantissa bits (table: 3 * 2^(M-2) entries)
    parameter int T_W     = 16,   // rsqrt table entry width (unsigned, <= 16: 16-bit lanes)
    parameter int NORM_W  = 16,   // widest normalised value (norm_fmt.bits)
    parameter int SH_MIN  = 0,    // smallest R + k - f_norm
    parameter int SH_MAX  = 40,   // largest R + k - f_norm
    parameter int OSH_MIN = 0,    // smallest out_shift
    parameter int OSH_MAX = 24,   // largest out_shift
    parameter int ROW_W   = 16,   // width of cfg_rows
    parameter int H_W     = 4,    // width of cfg_heads
    parameter int XB_AW   = 16,   // XB word address width
    parameter int AM_AW   = 16    // AM word address width
) (
    input  logic                   clk,
    input  logic                   rst_n,
    // control
    input  logic                   start,           // one-cycle pulse; cfg_* valid in this cycle
    output logic                   busy,            // from the cycle after start to done
    output logic                   done,            // one-cycle pulse: every AM write is committed
    // configuration (registered at start)
    input  logic [ROW_W-1:0]       cfg_rows,        // rows (0 allowed: only the blob is popped)
    input  logic [H_W-1:0]         cfg_heads,       // sub-rows a row (>= 1)
    input  logic [15:0]            cfg_p,           // words a sub-row, P (C = P*L channels)
    input  logic [XB_AW-1:0]       cfg_src_base,    // XB word of row 0
    input  logic [AM_AW-1:0]       cfg_dst_base,    // AM word of sub-row 0
    input  logic [AM_AW-1:0]       cfg_dst_stride,  // AM words from one sub-row to the next
    input  logic [VAR_W-1:0]       cfg_eps,         // eps_int
    input  logic [7:0]             cfg_rsqrt_shift, // R (signed)
    input  logic [4:0]             cfg_norm_bits,   // norm_fmt.bits
    input  logic [7:0]             cfg_norm_frac,   // norm_fmt.frac (signed)
    input  logic [7:0]             cfg_out_shift,   // out_shift (signed)
    input  logic [3:0]             cfg_out_bits,    // out_fmt.bits (<= 8)
    input  logic                   cfg_out_signed,  // out_fmt.signed
    // param stream
    input  logic [SB*8-1:0]        ps_tdata,
    input  logic                   ps_tvalid,
    output logic                   ps_tready,
    // XB read port (data RD_LAT = 2 cycles after the enable)
    output logic                   xb_rd_en,
    output logic [XB_AW-1:0]       xb_rd_addr,
    input  logic [L*X_W-1:0]       xb_rd_data,
    // AM write port
    output logic                   am_wr_en,
    output logic [AM_AW-1:0]       am_wr_addr,
    output logic [L-1:0]           am_wr_be,
    output logic [L*8-1:0]         am_wr_data
);
  // ---- derived sizes -----------------------------------------------------------------------------
  localparam int LG = $clog2(L);
  localparam int C_MAX = P_MAX * L;
  localparam int CB = $clog2(C_MAX + 1);                  // bits of C
  localparam int PC_W = $clog2(P_MAX + 1);                 // word counters 0..P_MAX
  localparam int SQ_W = 2 * X_W - 1 + CB;                  // sum of squares (unsigned)
  localparam int CQ_W = SQ_W + CB;                         // C*Q
  localparam int AS_W = SUM_W;                             // |S| (|S| <= 2^(SUM_W-1))
  localparam int S2_W = 2 * AS_W;                          // S^2
  localparam int DW = ((CQ_W > S2_W) ? CQ_W : S2_W) + 1;   // C*Q - S^2 (signed, >= 0)
  localparam int NT = 3 << (M - 2);                        // rsqrt table entries
  localparam int IDX_W = $clog2(NT);
  localparam int K_MIN = (2 - M) >>> 1;                    // ceil((1 - M) / 2)
  localparam int K_MAX = (VAR_W - M + 1) >>> 1;            // ceil((VAR_W - M) / 2)
  localparam int PADM = -2 * K_MIN;                        // V is padded so 2k - 2K_MIN >= 0
  localparam int SA_MAX = 2 * (K_MAX - K_MIN);             // largest mantissa shift
  localparam int SA_W = $clog2(SA_MAX + 1);
  localparam int VP_W = VAR_W + PADM;                      // padded V
  localparam int NG = (VAR_W + 7) / 8;                     // 8-bit groups of V (bit length)
  localparam int NG_W = (NG > 1) ? $clog2(NG) : 1;
  localparam int CT_W = CB + T_W;                          // C*t (unsigned, <= 26 bits)
  localparam int ST_W = AS_W + T_W;                        // |S|*t (unsigned)
  localparam int NST_W = ST_W + 1;                         // -S*t (signed)
  localparam int PROD_W = DEV_W + T_W;                     // d*t (signed)
  localparam int AFF_W = ((16 + NORM_W > 32) ? 16 + NORM_W : 32) + 1;  // gamma*n + beta
  localparam int TR = 5 + LG;                              // issue -> word sums
  localparam int LAT_V = 26;                               // sub-row sums -> per-row constants
  localparam int XD_MIN = P_MAX + TR + LAT_V;              // delay-buffer distance bound
  localparam int XD = 1 << $clog2(XD_MIN + 1);             // delay-buffer words
  localparam int XD_W = $clog2(XD);
  localparam int W_LAT = 13;                               // normalise issue -> AM write
  localparam int TB = (2 * NT + SB - 1) / SB;              // table beats
  localparam int SH_W = 8;

  // ---- configuration and control state --------------------------------------------------------
  typedef enum logic [1:0] {
    S_IDLE,
    S_LOAD,
    S_RUN
  } state_t;
  state_t state;

  logic [ROW_W-1:0] rows, rows_m2;                         // rows, rows - 2
  logic [H_W-1:0] heads, heads_m2;
  logic [PC_W-1:0] p_m2;                                   // P - 2
  logic rows_is1, heads_is1, p_is1;
  logic [CB-1:0] c_ch;                                     // C = P * L
  logic [XB_AW-1:0] src_base;
  logic [AM_AW-1:0] dst_base, dst_stride;
  logic [VAR_W-1:0] eps;
  logic signed [SH_W-1:0] rnf;                             // R - f_norm
  logic signed [SH_W-1:0] out_shift;
  logic [4:0] norm_bits;
  logic [3:0] out_bits;
  logic out_signed;
  logic signed [NORM_W:0] norm_lo, norm_hi;                // norm format bounds
  logic signed [8:0] out_lo, out_hi;                       // out format bounds
  logic [15:0] gb_beats, bb_beats;                         // gamma / beta beats


  always_ff @(posedge clk) begin
    if (start && state == S_IDLE) begin
      rows <= cfg_rows;
      rows_m2 <= cfg_rows - ROW_W'(2);
      rows_is1 <= (cfg_rows == ROW_W'(1));
      heads <= cfg_heads;
      heads_m2 <= cfg_heads - H_W'(2);
      heads_is1 <= (cfg_heads == H_W'(1));
      p_m2 <= PC_W'(cfg_p - 16'd2);
      p_is1 <= (cfg_p == 16'd1);
      c_ch <= CB'(32'(cfg_p) * L);
      src_base <= cfg_src_base;
      dst_base <= cfg_dst_base;
      dst_stride <= cfg_dst_stride;
      eps <= cfg_eps;
      rnf <= $signed(cfg_rsqrt_shift) - $signed(cfg_norm_frac);
      out_shift <= $signed(cfg_out_shift);
      norm_bits <= cfg_norm_bits;
      out_bits <= cfg_out_bits;
      out_signed <= cfg_out_signed;
      // beats of the gamma (2 bytes a channel) and beta (4 bytes) parts: ceil(n * P * L / SB)
      gb_beats <= 16'((32'(cfg_p) * L * 2 + SB - 1) / SB);
      bb_beats <= 16'((32'(cfg_p) * L * 4 + SB - 1) / SB);
    end
    // format bounds (constants of the instruction, ready long before the first row)
    norm_lo <= -((NORM_W + 1)'(1) <<< (norm_bits - 5'd1));
    norm_hi <= ((NORM_W + 1)'(1) <<< (norm_bits - 5'd1)) - (NORM_W + 1)'(1);
    if (out_signed) begin
      out_lo <= -(9'sd1 <<< (out_bits - 4'd1));
      out_hi <= (9'sd1 <<< (out_bits - 4'd1)) - 9'sd1;
    end else begin
      out_lo <= '0;
      out_hi <= (9'sd1 <<< out_bits) - 9'sd1;
    end
  end

  // ---- param blob ----------------------------------------------------------------------------------
  logic [1:0] part;                                        // 0 table, 1 gamma, 2 beta
  logic [15:0] beat;                                       // beat within the part
  logic [15:0] part_len;
  logic ps_fire, load_last;

  assign ps_tready = (state == S_LOAD);
  assign ps_fire = ps_tvalid && ps_tready;
  always_comb begin
    unique case (part)
      2'd0: part_len = 16'(TB);
      2'd1: part_len = gb_beats;
      default: part_len = bb_beats;
    endcase
  end
  assign load_last = (part == 2'd2) && (beat == part_len - 16'd1);

  logic [IDX_W-1:0] tbl_idx;
  logic [15:0] tbl_word;
  logic [PC_W-1:0] gb_word;
  logic [L*16-1:0] gamma_word;
  logic [L*32-1:0] beta_word;

  spvit_ov_layernorm_pram #(
      .SB(SB),
      .WB(2),
      .WORDS(NT)
  ) u_table (
      .clk(clk),
      .wr_en(ps_fire && part == 2'd0),
      .wr_beat(32'(beat)),
      .wr_data(ps_tdata),
      .rd_word(32'(tbl_idx)),
      .rd_data(tbl_word)
  );

  spvit_ov_layernorm_pram #(
      .SB(SB),
      .WB(2 * L),
      .WORDS(P_MAX)
  ) u_gamma (
      .clk(clk),
      .wr_en(ps_fire && part == 2'd1),
      .wr_beat(32'(beat)),
      .wr_data(ps_tdata),
      .rd_word(32'(gb_word)),
      .rd_data(gamma_word)
  );

  spvit_ov_layernorm_pram #(
      .SB(SB),
      .WB(4 * L),
      .WORDS(P_MAX)
  ) u_beta (
      .clk(clk),
      .wr_en(ps_fire && part == 2'd2),
      .wr_beat(32'(beat)),
      .wr_data(ps_tdata),
      .rd_word(32'(gb_word)),
      .rd_data(beta_word)
  );

  // ---- receive pass: issue one XB word a cycle ------------------------------------------------------
  logic [ROW_W-1:0] r_cnt;
  logic [H_W-1:0] h_cnt;
  logic [PC_W-1:0] i_cnt;
  logic [XB_AW-1:0] rd_addr;
  logic issue, all_last;
  logic i_first, i_last, h_last, r_last;                   // registered: word 0 / P-1, head H-1, row R-1
  logic all_issued;                                        // every word of the instruction issued
  logic fin_write;                                         // the instruction's last AM write (below)

  assign issue = (state == S_RUN) && !all_issued;
  assign all_last = i_last && h_last && r_last;
  assign xb_rd_en = issue;
  assign xb_rd_addr = rd_addr;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      state <= S_IDLE;
      part <= 2'd0;
      beat <= '0;
      all_issued <= 1'b0;
      busy <= 1'b0;
      done <= 1'b0;
    end else begin
      done <= 1'b0;
      unique case (state)
        S_IDLE: begin
          if (start) begin
            state <= S_LOAD;
            busy <= 1'b1;
            part <= 2'd0;
            beat <= '0;
          end
        end
        S_LOAD: begin
          if (ps_fire) begin
            if (beat == part_len - 16'd1) begin
              beat <= '0;
              part <= part + 2'd1;
            end else begin
              beat <= beat + 16'd1;
            end
            if (load_last) begin
              all_issued <= 1'b0;
              if (rows == '0 || heads == '0) begin
                state <= S_IDLE;                           // nothing to do: done after the blob
                busy <= 1'b0;
                done <= 1'b1;
              end else begin
                state <= S_RUN;
              end
            end
          end
        end
        S_RUN: begin
          if (issue && all_last) begin
            all_issued <= 1'b1;
          end
          if (fin_write) begin
            state <= S_IDLE;
            busy <= 1'b0;
            done <= 1'b1;
          end
        end
        default: state <= S_IDLE;
      endcase
    end
  end

  always_ff @(posedge clk) begin
    if (state != S_RUN) begin
      r_cnt <= '0;
      h_cnt <= '0;
      i_cnt <= '0;
      i_first <= 1'b1;
      i_last <= p_is1;
      h_last <= heads_is1;
      r_last <= rows_is1;
      rd_addr <= src_base;
    end else if (issue) begin
      rd_addr <= rd_addr + XB_AW'(1);
      if (!i_last) begin
        i_cnt <= i_cnt + PC_W'(1);
        i_first <= 1'b0;
        i_last <= (i_cnt == p_m2);
      end else begin
        i_cnt <= '0;
        i_first <= 1'b1;
        i_last <= p_is1;
        if (!h_last) begin
          h_cnt <= h_cnt + H_W'(1);
          h_last <= (h_cnt == heads_m2);
        end else begin
          h_cnt <= '0;
          h_last <= heads_is1;
          r_cnt <= r_cnt + ROW_W'(1);
          r_last <= (r_cnt == rows_m2);
        end
      end
    end
  end

  // issue flags along the receive pipeline, rflag[s] in cycle issue + 1 + s:
  // [0] valid, [1] first word of the sub-row, [2] last word of the sub-row, [3] last of the instruction
  logic [3:0] rflag[TR];
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      for (int s = 0; s < TR; s++) rflag[s] <= '0;
    end else begin
      rflag[0] <= {issue && all_last, issue && i_last, issue && i_first, issue};
      for (int s = 1; s < TR; s++) rflag[s] <= rflag[s-1];
    end
  end

  // the word arrives 2 cycles after its issue
  logic x_valid;
  assign x_valid = rflag[1][0];

  // delay buffer: the words wait here for their sub-row's constants
  logic [L*X_W-1:0] xbuf[XD];
  logic [XD_W-1:0] xb_wp, xb_rp;
  logic [L*X_W-1:0] xbuf_q;
  logic n_issue;                                           // normalise issue (below)
  always_ff @(posedge clk) begin
    if (x_valid) begin
      xbuf[xb_wp] <= xb_rd_data;
    end
    xbuf_q <= xbuf[xb_rp];
  end
  always_ff @(posedge clk) begin
    if (state == S_LOAD) begin
      xb_wp <= '0;
      xb_rp <= '0;
    end else begin
      if (x_valid) xb_wp <= xb_wp + XD_W'(1);
      if (n_issue) xb_rp <= xb_rp + XD_W'(1);
    end
  end

  // squares (a DSP a lane: A and B registers, M, P: in cycle issue + 5) and the two registered
  // adder trees (one adder level a stage); the word sum is delayed to meet the square sum
  localparam int SQL_W = 2 * X_W - 1;                      // one square (unsigned)
  logic [L*SQ_W-1:0] sq0;                                  // squares, issue + 5
  logic [L*SUM_W-1:0] x0;                                  // values, issue + 2
  logic [L*SQ_W-1:0] sq_t[1:LG];                           // level v: L >> v sums (low part)
  logic [L*SUM_W-1:0] x_t[1:LG];
  for (genvar l = 0; l < L; l++) begin : g_sq
    logic signed [X_W-1:0] sa_r, sb_r;
    logic signed [2*X_W-1:0] sm_r, sp_r;
    always_ff @(posedge clk) begin
      sa_r <= $signed(xb_rd_data[l*X_W+:X_W]);
      sb_r <= $signed(xb_rd_data[l*X_W+:X_W]);
      sm_r <= sa_r * sb_r;
      sp_r <= sm_r;
    end
    assign sq0[l*SQ_W+:SQ_W] = SQ_W'($unsigned(sp_r[SQL_W-1:0]));   // x^2 <= 2^(2 X_W - 2)
    assign x0[l*SUM_W+:SUM_W] = SUM_W'($signed(xb_rd_data[l*X_W+:X_W]));
    logic unused_sq;
    assign unused_sq = &{1'b0, sp_r[2*X_W-1:SQL_W]};
  end
  always_ff @(posedge clk) begin
    for (int v = 1; v <= LG; v++) begin
      sq_t[v] <= '0;
      x_t[v] <= '0;
      for (int i = 0; i < (L >> v); i++) begin
        if (v == 1) begin
          sq_t[v][i*SQ_W+:SQ_W] <= sq0[2*i*SQ_W+:SQ_W] + sq0[(2*i+1)*SQ_W+:SQ_W];
          x_t[v][i*SUM_W+:SUM_W] <= x0[2*i*SUM_W+:SUM_W] + x0[(2*i+1)*SUM_W+:SUM_W];
        end else begin
          sq_t[v][i*SQ_W+:SQ_W] <= sq_t[v-1][2*i*SQ_W+:SQ_W] + sq_t[v-1][(2*i+1)*SQ_W+:SQ_W];
          x_t[v][i*SUM_W+:SUM_W] <= x_t[v-1][2*i*SUM_W+:SUM_W] + x_t[v-1][(2*i+1)*SUM_W+:SUM_W];
        end
      end
    end
  end
  logic [SUM_W-1:0] ws_d[3];
  always_ff @(posedge clk) begin
    ws_d[0] <= x_t[LG][SUM_W-1:0];
    ws_d[1] <= ws_d[0];
    ws_d[2] <= ws_d[1];
  end
  logic unused_tree;
  assign unused_tree = &{1'b0, sq_t[LG][L*SQ_W-1:SQ_W], x_t[LG][L*SUM_W-1:SUM_W]};

  // accumulate over the sub-row (word sums of issue + TR = rflag[TR - 1])
  logic signed [SUM_W-1:0] acc_s;
  logic [SQ_W-1:0] acc_q;
  logic acc_valid, acc_final;                              // acc_s / acc_q hold a complete sub-row
  always_ff @(posedge clk) begin
    if (rflag[TR-1][0]) begin
      acc_s <= (rflag[TR-1][1] ? '0 : acc_s) + $signed(ws_d[2]);
      acc_q <= (rflag[TR-1][1] ? '0 : acc_q) + sq_t[LG][SQ_W-1:0];
    end
  end
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      acc_valid <= 1'b0;
      acc_final <= 1'b0;
    end else begin
      acc_valid <= rflag[TR-1][0] && rflag[TR-1][2];
      acc_final <= rflag[TR-1][0] && rflag[TR-1][3];
    end
  end

  // ---- per-sub-row scalar pipeline: a sub-row a cycle; signals named by their cycle e + s --------
  // (e = the cycle acc_valid is high: S and Q are in acc_s / acc_q)
  logic vv[0:LAT_V];                                       // valid
  logic vf[0:LAT_V];                                       // the instruction's last sub-row
  assign vv[0] = acc_valid;
  assign vf[0] = acc_final;
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      for (int s = 1; s <= LAT_V; s++) begin
        vv[s] <= 1'b0;
        vf[s] <= 1'b0;
      end
    end else begin
      for (int s = 1; s <= LAT_V; s++) begin
        vv[s] <= vv[s-1];
        vf[s] <= vf[s-1];
      end
    end
  end

  // e -> e+1: |S|, sign of S, Q
  logic [AS_W-1:0] abs_d[1:20];                            // |S|
  logic sgn_d[1:25];                                       // S < 0
  logic [SQ_W-1:0] q1;
  always_ff @(posedge clk) begin
    abs_d[1] <= AS_W'(acc_s[SUM_W-1] ? -acc_s : acc_s);
    sgn_d[1] <= acc_s[SUM_W-1];
    q1 <= acc_q;
    for (int s = 2; s <= 20; s++) abs_d[s] <= abs_d[s-1];
    for (int s = 2; s <= 25; s++) sgn_d[s] <= sgn_d[s-1];
  end

  // e+1 -> e+6: C*Q and S^2
  logic [CQ_W-1:0] cq6;
  logic [S2_W-1:0] s2_6;
  spvit_ov_layernorm_mul #(
      .AW(SQ_W),
      .BW(CB),
      .PW(CQ_W)
  ) u_cq (
      .clk(clk),
      .a(q1),
      .b(c_ch),
      .p(cq6)
  );
  spvit_ov_layernorm_mul #(
      .AW(AS_W),
      .BW(AS_W),
      .PW(S2_W)
  ) u_s2 (
      .clk(clk),
      .a(abs_d[1]),
      .b(abs_d[1]),
      .p(s2_6)
  );

  // e+6 -> e+7: D = C*Q - S^2 (>= 0 and < 2^VAR_W)
  logic [DW-1:0] dfull;
  logic [VAR_W-1:0] d7;
  assign dfull = DW'(cq6) - DW'(s2_6);
  always_ff @(posedge clk) begin
    d7 <= VAR_W'(dfull);
  end

  // e+7 -> e+12: C*D;  e+12 -> e+13: V = C*D + eps_int
  logic [VAR_W-1:0] cd12, v13;
  spvit_ov_layernorm_mul #(
      .AW(VAR_W),
      .BW(CB),
      .PW(VAR_W)
  ) u_cd (
      .clk(clk),
      .a(d7),
      .b(c_ch),
      .p(cd12)
  );
  always_ff @(posedge clk) begin
    v13 <= cd12 + eps;
  end

  // e+13 -> e+14: per 8-bit group of V: any bit set, position of its highest set bit
  logic [NG-1:0] gnz14;
  logic [NG*3-1:0] gpos14;
  logic [VAR_W-1:0] v14;
  always_ff @(posedge clk) begin
    for (int g = 0; g < NG; g++) begin
      gnz14[g] <= 1'b0;
      gpos14[g*3+:3] <= 3'd0;
      for (int b = 0; b < 8; b++) begin
        if (g * 8 + b < VAR_W) begin
          if (v13[(g*8+b < VAR_W) ? g*8+b : 0]) begin
            gnz14[g] <= 1'b1;
            gpos14[g*3+:3] <= 3'(b);
          end
        end
      end
    end
    v14 <= v13;
  end

  // e+14 -> e+15: highest set bit hb of V (bit length hb + 1), V = 0
  logic [NG_W+2:0] hb15;
  logic vz15;
  logic [VAR_W-1:0] v15;
  always_ff @(posedge clk) begin
    hb15 <= '0;
    for (int g = 0; g < NG; g++) begin
      if (gnz14[g]) hb15 <= {NG_W'(g), gpos14[g*3+:3]};
    end
    vz15 <= ~|gnz14;
    v15 <= v14;
  end

  // e+15 -> e+16: k = ceil((bitlen - M) / 2) = floor((hb + 2 - M) / 2) (K_MIN when V = 0: t is 0
  // then); sh = R + k - f_norm; mantissa shift sa = 2 (k - K_MIN) of the padded V
  logic signed [SH_W-1:0] kk;
  assign kk = vz15 ? SH_W'(K_MIN) : ($signed(SH_W'({1'b0, hb15})) + SH_W'(2 - M)) >>> 1;
  logic signed [SH_W-1:0] sh_d[16:LAT_V];
  logic [SA_W-1:0] sa16;
  logic vz_d[16:20];
  logic [VAR_W-1:0] v16;
  always_ff @(posedge clk) begin
    sh_d[16] <= kk + rnf;
    sa16 <= SA_W'(32'(kk - SH_W'(K_MIN)) * 2);
    vz_d[16] <= vz15;
    v16 <= v15;
    for (int s = 17; s <= LAT_V; s++) sh_d[s] <= sh_d[s-1];
    for (int s = 17; s <= 20; s++) vz_d[s] <= vz_d[s-1];
  end

  // e+16 -> e+17: coarse mantissa shift (multiples of 16);  e+17 -> e+18: fine shift, table index
  localparam int CS_W = M + 15;
  logic [VP_W-1:0] vp, vp_sh;
  logic [CS_W-1:0] cs17;
  logic [3:0] sf17;
  logic [M-1:0] mant;
  logic [IDX_W-1:0] idx18;
  assign vp = VP_W'(v16) << PADM;
  assign vp_sh = vp >> (sa16 & ~SA_W'(15));
  always_ff @(posedge clk) begin
    cs17 <= CS_W'(vp_sh);
    sf17 <= 4'(sa16);
  end
  assign mant = M'(cs17 >> sf17);
  always_ff @(posedge clk) begin
    // m in [2^(M-2), 2^M): m - 2^(M-2) only changes the top two bits (01 -> 00, 10 -> 01, 11 -> 10)
    idx18 <= IDX_W'({mant[M-1:M-2] - 2'd1, mant[M-3:0]});
  end
  assign tbl_idx = idx18;

  // e+18 -> e+20: table read;  e+20 -> e+25: C*t and |S|*t  (t = 0 when V = 0)
  logic [T_W-1:0] t20;
  assign t20 = vz_d[20] ? '0 : T_W'(tbl_word);
  logic [CT_W-1:0] ct25;
  logic [ST_W-1:0] st25;
  spvit_ov_layernorm_mul #(
      .AW(T_W),
      .BW(CB),
      .PW(CT_W)
  ) u_ct (
      .clk(clk),
      .a(t20),
      .b(c_ch),
      .p(ct25)
  );
  spvit_ov_layernorm_mul #(
      .AW(AS_W),
      .BW(T_W),
      .PW(ST_W)
  ) u_st (
      .clk(clk),
      .a(abs_d[20]),
      .b(t20),
      .p(st25)
  );

  // e+25 -> e+26: C*t and -S*t, the sub-row's constants
  logic [CT_W-1:0] ct26;
  logic signed [NST_W-1:0] nst26;
  always_ff @(posedge clk) begin
    ct26 <= ct25;
    nst26 <= sgn_d[25] ? $signed({1'b0, st25}) : -$signed({1'b0, st25});
  end

  logic unused_scalar;
  assign unused_scalar = &{1'b0, tbl_word, vp_sh, dfull, cs17};

  // ---- normalise pass: the P words of a sub-row, one a cycle, from the cycle its constants arrive
  // (stage 0 = issue: delay-buffer read; the word's side values travel with it)
  logic trig;                                              // a sub-row's constants arrive
  logic n_active, n_last;                                  // n_last: n_cnt is the sub-row's last word
  logic [PC_W-1:0] n_cnt, n_word;
  logic n_wlast, n_final;
  logic [CT_W-1:0] cur_ct;
  logic signed [NST_W-1:0] cur_nst;
  logic signed [SH_W-1:0] cur_sh;
  logic cur_fin;
  logic [AM_AW-1:0] row_next, cur_row, n_row;

  assign trig = vv[LAT_V];
  assign n_issue = trig || n_active;
  assign n_word = trig ? '0 : n_cnt;
  assign n_wlast = trig ? p_is1 : n_last;
  assign n_row = trig ? row_next : cur_row;
  assign n_final = n_wlast && (trig ? vf[LAT_V] : cur_fin);

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      n_active <= 1'b0;
    end else if (n_issue) begin
      n_active <= !n_wlast;
    end
  end
  always_ff @(posedge clk) begin
    if (state == S_LOAD) begin
      row_next <= dst_base;
    end else if (trig) begin
      row_next <= row_next + dst_stride;
    end
    if (n_issue) begin
      n_cnt <= n_word + PC_W'(1);
      n_last <= (n_word == p_m2);
    end
    if (trig) begin
      cur_ct <= ct26;
      cur_nst <= nst26;
      cur_sh <= sh_d[LAT_V];
      cur_fin <= vf[LAT_V];
      cur_row <= row_next;
    end
  end

  // side values: signals named by their stage
  logic [CT_W-1:0] ct1;
  logic signed [NST_W-1:0] nst1, nst2;
  logic signed [SH_W-1:0] shn[1:3];
  logic wv[1:W_LAT];                                       // valid
  logic wfin[1:W_LAT];                                     // the instruction's last word
  logic [AM_AW-1:0] waddr[1:W_LAT];
  logic [PC_W-1:0] gbw[1:5];
  always_ff @(posedge clk) begin
    ct1 <= trig ? ct26 : cur_ct;
    nst1 <= trig ? nst26 : cur_nst;
    shn[1] <= trig ? sh_d[LAT_V] : cur_sh;
    waddr[1] <= n_row + AM_AW'(n_word);
    gbw[1] <= n_word;
    nst2 <= nst1;
    for (int s = 2; s <= 3; s++) shn[s] <= shn[s-1];
    for (int s = 2; s <= W_LAT; s++) waddr[s] <= waddr[s-1];
    for (int s = 2; s <= 5; s++) gbw[s] <= gbw[s-1];
  end
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      for (int s = 1; s <= W_LAT; s++) begin
        wv[s] <= 1'b0;
        wfin[s] <= 1'b0;
      end
    end else begin
      wv[1] <= n_issue;
      wfin[1] <= n_issue && n_final;
      for (int s = 2; s <= W_LAT; s++) begin
        wv[s] <= wv[s-1];
        wfin[s] <= wfin[s-1];
      end
    end
  end
  assign gb_word = gbw[5];                                 // gamma / beta: read in 5, data in 7

  logic [L*8-1:0] y_out;
  for (genvar l = 0; l < L; l++) begin : g_lane
    // stages 1 -> 4: d*t = (C*t) * x - S*t   (A = C*t, B = x, C = -S*t; A/B, M, C and P registers)
    logic signed [26:0] da_r;
    logic signed [17:0] db_r;
    logic signed [44:0] dm_r;
    logic signed [47:0] dc_r, dp_r;
    always_ff @(posedge clk) begin
      da_r <= $signed({1'b0, 26'(ct1)});
      db_r <= 18'($signed(xbuf_q[l*X_W+:X_W]));
      dm_r <= da_r * db_r;
      dc_r <= 48'(nst2);
      dp_r <= 48'(dm_r) + dc_r;
    end

    // stages 4 -> 7: n = sat_norm(round_shift(d*t, R + k - f_norm))
    logic [NORM_W-1:0] n_val;
    spvit_ov_layernorm_rq #(
        .IN_W(PROD_W),
        .SH_W(SH_W),
        .SH_MIN(SH_MIN),
        .SH_MAX(SH_MAX),
        .OUT_W(NORM_W)
    ) u_norm (
        .clk(clk),
        .x(dp_r[PROD_W-1:0]),
        .sh(shn[3]),                                       // a cycle ahead of its value
        .sat_lo(norm_lo),
        .sat_hi(norm_hi),
        .y(n_val)
    );

    // stages 7 -> 10: gamma*n + beta   (A = gamma, B = n, C = beta)
    logic signed [26:0] ga_r;
    logic signed [17:0] gb_r;
    logic signed [44:0] gm_r;
    logic signed [31:0] beta_r;
    logic signed [47:0] gc_r, gp_r;
    always_ff @(posedge clk) begin
      ga_r <= 27'($signed(gamma_word[l*16+:16]));
      gb_r <= 18'($signed(n_val));
      beta_r <= $signed(beta_word[l*32+:32]);
      gm_r <= ga_r * gb_r;
      gc_r <= 48'(beta_r);
      gp_r <= 48'(gm_r) + gc_r;
    end

    // stages 10 -> 13: y = sat_out(round_shift(gamma*n + beta, out_shift))
    spvit_ov_layernorm_rq #(
        .IN_W(AFF_W),
        .SH_W(SH_W),
        .SH_MIN(OSH_MIN),
        .SH_MAX(OSH_MAX),
        .OUT_W(8)
    ) u_out (
        .clk(clk),
        .x(gp_r[AFF_W-1:0]),
        .sh(out_shift),
        .sat_lo(out_lo),
        .sat_hi(out_hi),
        .y(y_out[l*8+:8])
    );

    logic unused_lane;
    assign unused_lane = &{1'b0, dp_r[47:PROD_W], gp_r[47:AFF_W]};
  end

  // stage 13: the AM write (all registered)
  assign am_wr_en = wv[W_LAT];
  assign am_wr_addr = waddr[W_LAT];
  assign am_wr_be = {L{1'b1}};
  assign am_wr_data = y_out;
  assign fin_write = wv[W_LAT] && wfin[W_LAT];
endmodule
