// spvit_mvau: GEMM unit of the dataflow design (matrix-vector-activation unit, FINN style):
// one token of K values in -> one token of M values out (intops.int_linear, then an optional
// table, intops.table_lookup).  The weight matrix lives in an on-chip RAM written once over the
// weight bus (rtl/DATAFLOW.md); the arithmetic is one spvit_gemm (PE x SIMD MAC array +
// bias / residual / requantise / table epilogue).
//
//   y[m] = T[ requant( sum_k x[k] * W[m][k] + b[m] + (r[m] << RES_ALIGN), SHIFT, OUT_W ) ]
// exactly as spvit_gemm: RES_ALIGN < 0 shifts the accumulator instead, T only when HAS_TABLE.
// Raw-accumulator mode (classifier logits, intops out_fmt=None): SHIFT = 0 and OUT_W = ACC_W
// >= intops.accumulator_bits(X_W, W_W, K, BIAS_W) (the saturation is then the identity).
//
// Weight RAM: ROWS = (M/PE)*(K/SIMD) rows of PE*SIMD*W_W bits; row r = g*(K/SIMD) + b holds
// W[g*PE + p][b*SIMD + s] at bits [(p*SIMD + s)*W_W +: W_W].  The unit owns the bus words
// [WB_BASE, WB_BASE + ROWS*WPR), WPR = ceil(PE*SIMD*W_W / WB_W); word WB_BASE + r*WPR + j is bits
// [j*WB_W +: WB_W] of row r (the bits above the row in the last word are ignored).  The RAM is
// WPR column banks (WB_W bits, the last one narrower) of ROWS words, each written by its own
// bus words and read together: simple dual-port block RAM, synchronous read with enable.  Words
// may arrive in any order, with any other words in between (ignored).
// Bias ROM (HAS_BIAS): $readmemh BIAS_FILE, M/PE lines; line g is one PE*BIAS_W-bit word,
// bias[g*PE + p] (two's complement) at bits [p*BIAS_W +: BIAS_W]
// (spvit_fpga.rtl.pack.bias_memh).  Table (HAS_TABLE): TABLE_FILE as in spvit_gemm.
//
// Token buffer: the accepted token's K values are held in a register (K*X_W bits) and sent to
// the MAC array SIMD values a beat, once per output group: beat (g, b) = x[b*SIMD +: SIMD] with
// weight row g*(K/SIMD) + b.  The RAM read (address counter) and the activation mux register
// form one pipeline stage in front of the array that advances only when the array takes its beat
// (RAM read enable = stage advance), so back-pressure never loses a read.  The next token is
// accepted in the cycle the current token's last row is read, so consecutive tokens run
// back to back.  The array's outputs (PE lanes a beat) are collected into the output register
// (M*Y_W bits); a token is offered on m_axis when its last group is in.  tlast/tuser of each
// token travel in an 8-entry FIFO from s_axis_x to m_axis (at most 5 tokens are ever in flight:
// token register, array input stage / accumulator, epilogue register, array output register,
// output register).  Residual (HAS_RES): the held s_axis_r beat is read group by group
// (lanes [g*PE +: PE] with output group g) and taken (tready) with the token's last group, so
// s_axis_r_tdata must stay stable while tvalid is high and the beat is not yet taken (the
// AXI-Stream rule); no residual buffer.
//
// Weights must be loaded before use: s_axis_x_tready stays low until ROWS*WPR owned words have
// been written since reset (each owned word must be written exactly once after reset; writes
// after that still land in the RAM but must not overlap a token's computation).
//
// Cycles, nothing stalling: a token takes (M/PE)*(K/SIMD) cycles of the MAC array, plus one when
// K/SIMD = 1 (the array output register then meets a full output register at the token
// boundary: the output-register handshake is not passed combinationally to the array, so
// m_axis_tready does not reach s_axis_x_tready); latency from the input handshake to m_axis_tvalid
// (M/PE)*(K/SIMD) + 4 cycles.  Weight bus: a word sampled at clock edge E is written into the
// RAM at edge E+2 (range check, row/word split, write); after the last owned word's edge E+2,
// s_axis_x_tready may rise.
//
// Preconditions: M % PE == 0, K % SIMD == 0, 0 <= WB_BASE < 2^31, WB_BASE + ROWS*WPR <= 2^32;
// ACC_W >= intops.accumulator_bits(X_W, W_W, K) (no saturation inside the accumulation);
// the parameters of spvit_gemm (OUT_W <= 10 when HAS_TABLE, 2^OUT_W table entries).
module spvit_mvau #(
    parameter int K          = 16,           // fan-in (input lanes of a token)
    parameter int M          = 8,            // outputs (output lanes of a token)
    parameter int PE         = 4,            // outputs per MAC beat (divides M)
    parameter int SIMD       = 8,            // inputs per MAC beat (divides K)
    parameter int X_W        = 8,            // activation width
    parameter bit X_SIGNED   = 1'b1,         // activations signed (0: e.g. image pixels)
    parameter int W_W        = 8,            // weight width
    parameter bit W_SIGNED   = 1'b1,         // weights signed
    parameter int ACC_W      = 32,           // accumulator width (>= intops.accumulator_bits)
    parameter bit HAS_BIAS   = 1'b1,         // add the bias ROM
    parameter int BIAS_W     = 32,           // bias width (frac of the accumulator)
    parameter     BIAS_FILE  = "bias.hex",   // $readmemh bias ROM, M/PE lines of PE*BIAS_W bits
    parameter bit HAS_RES    = 1'b0,         // consume s_axis_r (fused residual add)
    parameter int RES_W      = 16,           // residual width
    parameter int RES_ALIGN  = 0,            // f_x + f_w - f_r (see spvit_gemm)
    parameter int SHIFT      = 8,            // requantisation shift = f_acc - f_out (<= 0: left)
    parameter int OUT_W      = 8,            // requantised width (table input width if HAS_TABLE)
    parameter bit OUT_SIGNED = 1'b1,         // requantised format signed
    parameter bit HAS_TABLE  = 1'b0,         // apply a table (GELU, sigmoid) to the result
    parameter int TABLE_W    = 8,            // table entry width
    parameter     TABLE_FILE = "gelu.hex",   // $readmemh table, 2^OUT_W entries
    parameter int WB_W       = 64,           // weight bus width
    parameter int WB_BASE    = 0,            // first weight-bus word index the unit owns
    parameter int Y_W        = HAS_TABLE ? TABLE_W : OUT_W  // output lane width (do not set)
) (
    input  logic                  clk,
    input  logic                  rst_n,
    // weight bus (writes only, no back-pressure)
    input  logic                  wb_valid,
    input  logic [31:0]           wb_addr,          // word index in the weight image
    input  logic [WB_W-1:0]       wb_data,
    // input tokens, one a beat
    input  logic [K*X_W-1:0]      s_axis_x_tdata,
    input  logic                  s_axis_x_tvalid,
    output logic                  s_axis_x_tready,
    input  logic                  s_axis_x_tlast,   // last token of the frame
    input  logic [1:0]            s_axis_x_tuser,   // token kind (carried to m_axis)
    // residual tokens (HAS_RES), one a beat, the same token order
    input  logic [M*RES_W-1:0]    s_axis_r_tdata,
    input  logic                  s_axis_r_tvalid,
    output logic                  s_axis_r_tready,
    // output tokens, one a beat
    output logic [M*Y_W-1:0]      m_axis_tdata,
    output logic                  m_axis_tvalid,
    input  logic                  m_axis_tready,
    output logic                  m_axis_tlast,
    output logic [1:0]            m_axis_tuser
);
  localparam int KB = K / SIMD;                           // MAC beats per output group
  localparam int G = M / PE;                              // output groups per token
  localparam int ROWS = G * KB;                           // weight RAM rows (beats per token)
  localparam int ROW_W = PE * SIMD * W_W;                 // weight RAM row width
  localparam int WPR = (ROW_W + WB_W - 1) / WB_W;         // bus words per row
  localparam int LAST_W = ROW_W - (WPR - 1) * WB_W;       // bits of a row in its last word
  localparam int NWORDS = ROWS * WPR;                     // bus words owned
  localparam int XB_W = SIMD * X_W;                       // one activation beat
  localparam int RA_W = (ROWS > 1) ? $clog2(ROWS) : 1;    // row address
  localparam int KB_W = (KB > 1) ? $clog2(KB) : 1;        // beat in group
  localparam int G_W = (G > 1) ? $clog2(G) : 1;           // group index
  localparam int CW = (WPR > 1) ? $clog2(WPR) : 1;        // word in row
  localparam int OFF_W = (NWORDS > 1) ? $clog2(NWORDS) : 1;  // owned word offset
  localparam int CNT_W = $clog2(NWORDS + 1);              // words written
  localparam logic [RA_W-1:0] ROW_LAST = RA_W'(ROWS - 1);
  localparam logic [KB_W-1:0] KB_LAST = KB_W'(KB - 1);
  localparam logic [G_W-1:0] G_LAST = G_W'(G - 1);
  localparam logic [CNT_W-1:0] CNT_LAST = CNT_W'(NWORDS - 1);

  // ---- weight bus -> weight RAM ----------------------------------------------------------------
  // W0: range check and offset; W1: row / word-in-row; then the RAM write.
  logic [32:0] wb_off;
  logic wb_mine;
  logic w0_valid, w1_valid;
  logic [OFF_W-1:0] w0_off;
  logic [31:0] w0_off32;
  logic [WB_W-1:0] w0_data, w1_data;
  logic [RA_W-1:0] w1_row;
  logic [CW-1:0] w1_col;
  logic [CNT_W-1:0] wr_cnt;
  logic loaded;                                           // every owned word has been written

  assign wb_off = {1'b0, wb_addr} - 33'(WB_BASE);
  assign wb_mine = wb_valid && (wb_off < 33'(NWORDS));
  assign w0_off32 = 32'(w0_off);

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      w0_valid <= 1'b0;
      w1_valid <= 1'b0;
    end else begin
      w0_valid <= wb_mine;
      w1_valid <= w0_valid;
    end
  end

  always_ff @(posedge clk) begin
    w0_off <= wb_off[OFF_W-1:0];
    w0_data <= wb_data;
    w1_row <= RA_W'(w0_off32 / 32'(WPR));                 // constant divisor
    w1_col <= CW'(w0_off32 % 32'(WPR));
    w1_data <= w0_data;
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      wr_cnt <= '0;
      loaded <= 1'b0;
    end else if (w1_valid && !loaded) begin
      wr_cnt <= wr_cnt + 1'b1;
      loaded <= (wr_cnt == CNT_LAST);
    end
  end

  // ---- token register, address generation, RAM read (array input stage) ----------------------
  logic busy;                                             // token register has rows left to read
  logic [RA_W-1:0] row_rd;                                // next row to read
  logic [KB_W-1:0] b_rd;                                  // its beat within the group
  logic [XB_W-1:0] xbuf[KB];                              // the token, one entry per beat
  logic a_valid;                                          // array input stage holds a beat
  logic [XB_W-1:0] a_x;
  logic [ROW_W-1:0] a_w;
  logic a_last;                                           // last beat of a group
  logic a_tok_end;                                        // last beat of the token
  logic adv, issue, issue_end, x_fire;
  logic g_x_tready, g_w_tready;
  logic meta_full;

  assign adv = !a_valid || g_x_tready;                    // the stage may take a new beat
  assign issue = busy && adv;
  assign issue_end = issue && (row_rd == ROW_LAST);
  assign s_axis_x_tready = loaded && !meta_full && (!busy || issue_end);
  assign x_fire = s_axis_x_tvalid && s_axis_x_tready;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      busy <= 1'b0;
      row_rd <= '0;
      b_rd <= '0;
      a_valid <= 1'b0;
    end else begin
      if (adv) begin
        a_valid <= issue;
      end
      if (x_fire) begin
        busy <= 1'b1;
        row_rd <= '0;
        b_rd <= '0;
      end else if (issue) begin
        busy <= !issue_end;
        row_rd <= row_rd + 1'b1;
        b_rd <= (b_rd == KB_LAST) ? '0 : b_rd + 1'b1;
      end
    end
  end

  always_ff @(posedge clk) begin
    if (x_fire) begin
      for (int b = 0; b < KB; b++) begin
        xbuf[b] <= s_axis_x_tdata[b*XB_W+:XB_W];
      end
    end
  end

  always_ff @(posedge clk) begin
    if (issue) begin
      a_x <= xbuf[b_rd];
      a_last <= (b_rd == KB_LAST);
      a_tok_end <= (row_rd == ROW_LAST);
    end
  end

  for (genvar j = 0; j < WPR; j++) begin : g_bank
    localparam int BW = (j == WPR - 1) ? LAST_W : WB_W;
    logic [BW-1:0] mem[ROWS];
    logic [BW-1:0] q;

    always_ff @(posedge clk) begin
      if (w1_valid && w1_col == CW'(j)) begin
        mem[w1_row] <= w1_data[BW-1:0];
      end
    end

    always_ff @(posedge clk) begin
      if (issue) begin
        q <= mem[row_rd];
      end
    end

    assign a_w[j*WB_W+:BW] = q;
  end

  // ---- bias ROM stream --------------------------------------------------------------------------
  logic [PE*BIAS_W-1:0] b_data;
  logic b_valid, g_b_tready;
  logic [PE*RES_W-1:0] r_group;
  logic g_r_tready;

  if (HAS_BIAS) begin : g_bias
    logic b_load;
    logic [G_W-1:0] b_addr;                               // next group to read
    assign b_load = !b_valid || g_b_tready;
    always_ff @(posedge clk) begin
      if (!rst_n) begin
        b_valid <= 1'b0;
        b_addr <= '0;
      end else if (b_load) begin
        b_valid <= 1'b1;
        b_addr <= (b_addr == G_LAST) ? '0 : b_addr + 1'b1;
      end
    end
    spvit_rom #(
        .DEPTH(G),
        .DATA_W(PE * BIAS_W),
        .ADDR_W(G_W),
        .INIT_FILE(BIAS_FILE)
    ) u_bias (
        .clk(clk),
        .en(b_load),
        .addr(b_addr),
        .data(b_data)
    );
  end else begin : g_no_bias
    assign b_valid = 1'b0;
    assign b_data = '0;
  end

  // ---- residual: the held s_axis_r beat, one group of lanes per output group -----------------
  if (HAS_RES) begin : g_res
    logic [G_W-1:0] g_res_idx;                            // group of the next residual use
    logic [PE*RES_W-1:0] r_groups[G];
    for (genvar g = 0; g < G; g++) begin : g_slice
      assign r_groups[g] = s_axis_r_tdata[g*PE*RES_W+:PE*RES_W];
    end
    assign r_group = r_groups[g_res_idx];
    assign s_axis_r_tready = g_r_tready && (g_res_idx == G_LAST);
    always_ff @(posedge clk) begin
      if (!rst_n) begin
        g_res_idx <= '0;
      end else if (s_axis_r_tvalid && g_r_tready) begin
        g_res_idx <= (g_res_idx == G_LAST) ? '0 : g_res_idx + 1'b1;
      end
    end
  end else begin : g_no_res
    assign r_group = '0;
    assign s_axis_r_tready = 1'b0;
  end

  // ---- MAC array + epilogue ---------------------------------------------------------------------
  logic [PE*Y_W-1:0] g_y;
  logic g_y_valid, g_y_ready, g_y_last;

  spvit_gemm #(
      .PE(PE),
      .SIMD(SIMD),
      .X_W(X_W),
      .X_SIGNED(X_SIGNED),
      .W_W(W_W),
      .W_SIGNED(W_SIGNED),
      .ACC_W(ACC_W),
      .HAS_BIAS(HAS_BIAS),
      .BIAS_W(BIAS_W),
      .HAS_RES(HAS_RES),
      .RES_W(RES_W),
      .RES_ALIGN(RES_ALIGN),
      .SHIFT(SHIFT),
      .OUT_W(OUT_W),
      .OUT_SIGNED(OUT_SIGNED),
      .HAS_TABLE(HAS_TABLE),
      .TABLE_W(TABLE_W),
      .TABLE_FILE(TABLE_FILE)
  ) u_gemm (
      .clk(clk),
      .rst_n(rst_n),
      .s_axis_x_tdata(a_x),
      .s_axis_x_tvalid(a_valid),
      .s_axis_x_tready(g_x_tready),
      .s_axis_x_tlast(a_last),
      .s_axis_x_tuser(a_tok_end),
      .s_axis_w_tdata(a_w),
      .s_axis_w_tvalid(a_valid),
      .s_axis_w_tready(g_w_tready),
      .s_axis_b_tdata(b_data),
      .s_axis_b_tvalid(b_valid),
      .s_axis_b_tready(g_b_tready),
      .s_axis_r_tdata(r_group),
      .s_axis_r_tvalid(s_axis_r_tvalid),
      .s_axis_r_tready(g_r_tready),
      .m_axis_tdata(g_y),
      .m_axis_tvalid(g_y_valid),
      .m_axis_tready(g_y_ready),
      .m_axis_tlast(g_y_last)
  );

  // ---- output token register ----------------------------------------------------------------------
  logic [G_W-1:0] g_out;                                  // group the next array output fills
  logic y_fire, m_fire;

  assign g_y_ready = !m_axis_tvalid;
  assign y_fire = g_y_valid && g_y_ready;
  assign m_fire = m_axis_tvalid && m_axis_tready;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      g_out <= '0;
      m_axis_tvalid <= 1'b0;
    end else begin
      if (y_fire) begin
        g_out <= g_y_last ? '0 : g_out + 1'b1;
      end
      if (y_fire && g_y_last) begin
        m_axis_tvalid <= 1'b1;
      end else if (m_fire) begin
        m_axis_tvalid <= 1'b0;
      end
    end
  end

  always_ff @(posedge clk) begin
    if (y_fire) begin
      for (int g = 0; g < G; g++) begin
        if (g_out == G_W'(g)) begin
          m_axis_tdata[g*PE*Y_W+:PE*Y_W] <= g_y;
        end
      end
    end
  end

  // ---- tlast / tuser of the tokens in flight ------------------------------------------------------
  logic [2:0] meta_mem[8];                                // {tuser, tlast}
  logic [3:0] meta_wp, meta_rp;                           // pointers with a wrap bit

  assign meta_full = (meta_wp[2:0] == meta_rp[2:0]) && (meta_wp[3] != meta_rp[3]);
  assign m_axis_tlast = meta_mem[meta_rp[2:0]][0];
  assign m_axis_tuser = meta_mem[meta_rp[2:0]][2:1];

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      meta_wp <= '0;
      meta_rp <= '0;
    end else begin
      if (x_fire) begin
        meta_wp <= meta_wp + 1'b1;
      end
      if (m_fire) begin
        meta_rp <= meta_rp + 1'b1;
      end
    end
  end

  always_ff @(posedge clk) begin
    if (x_fire) begin
      meta_mem[meta_wp[2:0]] <= {s_axis_x_tuser, s_axis_x_tlast};
    end
  end

  // Bits with no use in a configuration: the top of the last bus word, the array's weight
  // ready (equal to its activation ready: both streams are driven by a_valid), the bias /
  // residual readies and residual lanes without HAS_BIAS / HAS_RES.
  logic unused_ok;
  assign unused_ok = &{1'b0, w1_data, g_w_tready, g_b_tready, g_r_tready, s_axis_r_tdata};
endmodule
