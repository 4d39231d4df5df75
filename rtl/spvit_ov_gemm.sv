// spvit_ov_gemm: the overlay engine's GEMM unit (program.Gemm): a weight-stationary L x L
// packed-DSP array (spvit_ov_gemm_array), an accumulator RAM and a pipelined epilogue
// (spvit_ov_gemm_epi per lane, spvit_ov_gemm_tr for the transposed destination).
//
// One instruction (exactly spvit_fpga.hw.overlay.execute._Engine.gemm = intops.int_linear, then
// intops.table_lookup): for n-block b < NB, k-chunk c < KC, row r < R
//   acc[r][b*L+i] = sum_c sum_k act[r][c*L+k] * W[b*L+i][c*L+k]
//   act word (r, c) = AM word act_base + r*act_stride + c (8-bit lanes, signed by cfg_act_signed)
//   W: from the param stream (blob of layout.add_gemm: [table] then per block: bias (L x 32-bit),
//      per chunk the tile, pair-rows last first; 8-bit lanes, 16-bit lanes with cfg_w16), or from
//      AM (cfg_w_am): row n = word w_base + n*w_stride + c, 8-bit signed lanes; in the last chunk
//      lanes k >= cfg_k_last are forced to 0 (they meet stale activation lanes).
//   epilogue (valid lanes): v = acc [+ bias] [+ residual aligned]; raw: v, else
//      y = saturate(round_half_even(v / 2^s)) [then table[y - min_int]]   (spvit_ov_gemm_epi)
//   destinations (cfg_dst): 0 AM word dst_base + r*dst_stride + b, lanes i < L (< n_last in the
//      last block); 1 AM transposed: (r, n) -> word dst_base + n*dst_stride + r/L, lane r%L
//      (spvit_ov_gemm_tr); 2 XB word dst_base + r*dst_stride + b (X_W-bit lanes; the residual is
//      read from the same word); 3 result RAM word dst_base + b (32-bit lanes; R = 1).
//
// Control: start with the cfg_* ports; the unit takes it in a cycle where busy is low (cycle 0 of
// the instruction; also its predecessor's done cycle) and registers the configuration.  busy is
// high from cycle 1 to the cycle before done; done is a one-cycle pulse in cycle N, after every
// write of the instruction has been committed.  Buffers: act / W read ports (data RD_LAT = 2
// cycles after rd_en), AM / XB / result write ports, XB read port (residual).  The top routes
// the AM ports to banks: act and W reads must hit different banks.
//
// Micro-architecture.  A loader fills the array's shadow chain with the next tile (from the
// stream: one beat a cycle, SB bytes; from AM: one row a cycle; through one piece register)
// while the current tile streams its rows (one AM word a cycle) through the DSPs; the swap (DSP
// A registers <= chain) happens as the first row of the next tile enters the B registers, so
// consecutive tiles stream without a bubble when the load is hidden.  Slot pipeline (cycles
// after a row's issue, LG = log2 L):
//   0 act read | 2 act data -> act register | 3 B (swap here) | 4 M | 5 P | 6..5+LG adder tree |
//   T0 = 6+LG: tree sum; acc = sum [+ acc RAM (read at T0-2)] + the tree's last borrow bit;
//   bias read | T0+1: acc RAM write (not last chunk) or epilogue E1 (residual read at T0-1) ..
//   E8 | EW = T0+9: AM / XB / result write, or into the corner turner, whose words are written in
//   cycles W+3 .. W+L+2 after a group's last slot W.  Tags (row, chunk flags, block, address)
//   travel beside the data.
//
// Cycle formula (instruction taken in cycle 0, done in cycle N, the param stream never empty;
// checked exactly by tests/test_rtl_ov_gemm.py through spvit_fpga/rtl/vectors/ov_gemm.py
// gemm_cycles).  Tiles k = 0 .. NB*KC-1 in order (b, c), c_k = k mod KC:
//   S_k  = slots (issued rows) of tile k: R, or L*ceil(R/L) in the last chunk of the transposed
//          destination (whole corner-turner groups; the extra slots are bubbles)
//   LOAD = TB = ceil(L*L*WB/SB) beats (stream, WB = 2 with cfg_w16) or L rows (AM)
//   G, H = 2, 2 (stream) or 0, 4 (AM): a tile's first element may be loaded G cycles after the
//          previous tile's issue started; a tile can issue H cycles after its last element
//   X_k  = BB = ceil(4L/SB) bias beats if cfg_bias and c_k = 0, else 0
//   TT   = table cycles if cfg_table: (ceil(2^in/SB) - 1) * SB/TBL_G + 1, else 0
//   E_0  = TT + X_0 + LOAD                      E_k = max(E_{k-1} + X_k + 1, I_{k-1} + G) + LOAD - 1
//   I_0  = E_0 + H                              I_k = max(E_k + H, I_{k-1} + S_{k-1})
//   N    = I_last + S_last + DRAIN,  DRAIN = T0 + 9 (AM, XB, result) or T0 + L + 11 (transposed)
// (E_k: cycle of the tile's last stream pop / AM read; I_k: cycle its first row is issued.)
// One tile: N = TT + X_0 + LOAD + H + S + DRAIN.  Steady state: a tile takes max(S, TB + 3)
// (stream) or max(S, L + 3) (AM) cycles; block-start bias beats are hidden unless BB + TB + 3 > S
// and BB > 3 (the recurrence is exact either way).
// The bias RAM holds 8 blocks; the loader waits for a free entry (registered check, 7 in use),
// which never binds: block b's bias is popped after tile b-2 started issuing (one tile in the
// chain at a time), and block b-7 finished more than 5 tile periods (each >= max(S, 4)) earlier,
// i.e. before its last slot could still be short of the bias read at T0 <= 12.
//
// Preconditions: L even power of two >= 2, SB a power of two >= 4 (bytes), TBL_G a power of two
// dividing SB with TBL_G <= 2^TBL_BITS, T_MAX >= 2; 1 <= R <= T_MAX; 1 <= KC, NB < 2^CNT_W;
// 1 <= n_last, k_last <= L; 9-bit weights (cfg_w16) lie in [-255, 255] when PACK = 2 (the
// generator's delta row is a difference of int8 rows); ACC_W >= the instruction's proven
// accumulator width (<= 32); cfg_raw implies shift 0 and no negative align; the residual only
// with the XB destination; the transposed destination only with 8-bit outputs; bias and table
// only with stream weights (they are parts of the GEMM blob); the table's input format is
// (cfg_table_in_bits <= TBL_BITS, cfg_out_signed) and holds the saturated output.
//
// Resources: L*L/PACK DSPs (each with its A/B/M/P registers); shadow chain L*L*9 FFs; adder
// trees L * sum_{l=1..LG} (L>>l)(18+l) FFs plus L-1 borrow bits per odd tree (no incrementer:
// the borrows use the adders' carry-ins), about one LUT per tree adder bit; accumulator RAM
// T_MAX x L*ACC_W (block RAM); per lane: 8 x ACC_W bias LUT-RAM, 2^TBL_BITS x 8 table LUT-RAM
// (TBL_G banks), ~10 ACC_W-bit epilogue registers, ~500 LUTs; corner turner: L banks of 2L x 8
// LUT-RAM and two log2(L)-stage rotators.  Yosys 0.70 (xcup), FF counts include the DSP
// registers Yosys leaves in the fabric (~100 a DSP):
//   L = 8,  SB 32, T_MAX 200:   32 DSP48E2,  7.4k LUT, 10.0k FF,  4 RAMB36,  80 RAM32M16
//   L = 16, SB 64, T_MAX 200:  128 DSP48E2, 16.9k LUT, 28.5k FF, 15 RAMB18, 160 RAM32M16
//     (its array alone: 4.8k LUT, 18.8k FF).  L = 64 extrapolated: 2048 DSPs, ~82k LUT trees +
//     ~32k LUT epilogue, ~117k FF chain + trees.
// Timing (Yosys 0.70 synth_xilinx -family xcup, L = 8): no register-to-register path exceeds 6
// LUT levels (LUT-RAM reads counted as one) and one 32-bit carry chain; every DSP48E2's A and B
// inputs come straight from flip-flops (A with CE = swap) and its P output feeds two flip-flop
// stages only (M, P).  Yosys 0.70 packs such registers into DSP48E1 but not into DSP48E2; Vivado
// absorbs them (AREG/BREG/MREG/PREG).
module spvit_ov_gemm #(
    parameter int L          = 8,    // array side, lanes of every buffer word
    parameter int PACK       = 2,    // MACs per DSP: 2 (DSP48E2 packing) or 1
    parameter int PACK_SHIFT = 18,   // upper product position of a packed DSP
    parameter int SB         = 32,   // param-stream beat bytes
    parameter int ACC_W      = 32,   // accumulator width (max proven acc_bits, <= 32)
    parameter int X_W        = 16,   // residual (XB) lane width
    parameter int T_MAX      = 64,   // most rows (accumulator RAM depth)
    parameter int AM_AW      = 12,   // AM word address width
    parameter int XB_AW      = 12,   // XB word address width
    parameter int RS_AW      = 4,    // result RAM word address width
    parameter int CNT_W      = 8,    // block / chunk counter width
    parameter int TBL_BITS   = 8,    // largest table input width (table depth 2^TBL_BITS)
    parameter int TBL_G      = 8,    // table entries written a cycle
    localparam int LG   = $clog2(L),
    localparam int RW   = $clog2(T_MAX + 1),
    localparam int NW   = $clog2(L + 1),
    localparam int DA_W = (AM_AW > XB_AW) ? ((AM_AW > RS_AW) ? AM_AW : RS_AW)
                                          : ((XB_AW > RS_AW) ? XB_AW : RS_AW)
) (
    input  logic                     clk,
    input  logic                     rst_n,
    // control
    input  logic                     start,                 // one-cycle pulse, cfg_* valid
    output logic                     busy,
    output logic                     done,                  // one-cycle pulse, writes committed
    // configuration (registered at start)
    input  logic [RW-1:0]            cfg_rows,              // R (1..T_MAX)
    input  logic [CNT_W-1:0]         cfg_kc,                // k-chunks KC = ceil(K/L)
    input  logic [CNT_W-1:0]         cfg_nb,                // n-blocks NB = ceil(N/L)
    input  logic [NW-1:0]            cfg_n_last,            // valid output lanes of the last block
    input  logic [NW-1:0]            cfg_k_last,            // valid input lanes of the last chunk (AM W)
    input  logic [AM_AW-1:0]         cfg_act_base,          // word of act row 0, chunk 0
    input  logic [AM_AW-1:0]         cfg_act_stride,        // words a row
    input  logic                     cfg_act_signed,        // activation lanes signed
    input  logic                     cfg_w_am,              // W from AM (else the param stream)
    input  logic [AM_AW-1:0]         cfg_w_base,            // word of W row 0, chunk 0 (AM)
    input  logic [AM_AW-1:0]         cfg_w_stride,          // words a W row (AM)
    input  logic                     cfg_w16,               // stream weights in 16-bit lanes (9-bit)
    input  logic                     cfg_bias,              // bias from the stream (per block)
    input  logic                     cfg_table,             // table from the stream, applied
    input  logic [3:0]               cfg_table_in_bits,     // table input bits (<= TBL_BITS)
    input  logic                     cfg_table_out_signed,  // table entries signed
    input  logic signed [6:0]        cfg_shift,             // requested shift -64..63; shift - min(align, 0) in 0..63
    input  logic                     cfg_res,               // add the residual (XB destination)
    input  logic signed [5:0]        cfg_res_align,         // -31..31
    input  logic                     cfg_raw,               // output v itself (no saturation)
    input  logic [4:0]               cfg_out_bits,          // output bits 2..16
    input  logic                     cfg_out_signed,        // output signed
    input  logic [1:0]               cfg_dst,               // 0 AM, 1 AM transposed, 2 XB, 3 result
    input  logic [DA_W-1:0]          cfg_dst_base,          // destination word of (row 0, block 0)
    input  logic [DA_W-1:0]          cfg_dst_stride,        // destination words a row (a column: 1)
    // activation read (AM)
    output logic                     act_rd_en,
    output logic [AM_AW-1:0]         act_rd_addr,
    input  logic [L*8-1:0]           act_rd_data,
    // stationary weights from AM
    output logic                     w_rd_en,
    output logic [AM_AW-1:0]         w_rd_addr,
    input  logic [L*8-1:0]           w_rd_data,
    // AM write (destination kinds 0, 1)
    output logic                     am_wr_en,
    output logic [AM_AW-1:0]         am_wr_addr,
    output logic [L-1:0]             am_wr_be,
    output logic [L*8-1:0]           am_wr_data,
    // XB read (residual) and write (destination kind 2)
    output logic                     xb_rd_en,
    output logic [XB_AW-1:0]         xb_rd_addr,
    input  logic [L*X_W-1:0]         xb_rd_data,
    output logic                     xb_wr_en,
    output logic [XB_AW-1:0]         xb_wr_addr,
    output logic [L-1:0]             xb_wr_be,
    output logic [L*X_W-1:0]         xb_wr_data,
    // result RAM write (destination kind 3)
    output logic                     res_wr_en,
    output logic [RS_AW-1:0]         res_wr_addr,
    output logic [L-1:0]             res_wr_be,
    output logic [L*32-1:0]          res_wr_data,
    // param stream
    input  logic [SB*8-1:0]          ps_tdata,
    input  logic                     ps_tvalid,
    output logic                     ps_tready
);
  // ---- sizes ---------------------------------------------------------------------------------
  localparam int CS = (SB >= L) ? ((SB < L * L) ? SB : L * L) : L;  // weights a chain step
  localparam int P8 = (SB < CS) ? SB : CS;             // weights a piece: 8-bit stream beat
  localparam int P16 = (SB / 2 < CS) ? SB / 2 : CS;    // 16-bit stream beat
  localparam int PPS8 = CS / P8;                       // pieces a step
  localparam int PPS16 = CS / P16;
  localparam int PPSAM = CS / L;
  localparam int PC_W = $clog2(PPS16 + PPSAM + 1);
  localparam int SPT = L * L / CS;                     // steps a tile
  localparam int SC_W = (SPT > 1) ? $clog2(SPT) : 1;
  localparam int TB8 = (L * L + SB - 1) / SB;          // stream beats a tile
  localparam int TB16 = (2 * L * L + SB - 1) / SB;
  localparam int BB = (4 * L + SB - 1) / SB;           // bias beats a block
  localparam int BL = (4 * L >= SB) ? SB / 4 : L;      // bias lanes a beat
  localparam int GB = $clog2(TBL_G);
  localparam int GPB = SB / TBL_G;                     // table groups a beat
  localparam int GPB_L = $clog2(GPB);
  localparam int TA_W = (TBL_BITS > GB) ? TBL_BITS - GB : 1;
  localparam int TG_WD = TA_W + 1;                     // table group counter
  localparam int NTB_MAX = ((1 << TBL_BITS) + SB - 1) / SB;  // table beats at most
  localparam int BC_M1 = (TB16 > BB) ? TB16 : BB;
  localparam int BC_M2 = (L > NTB_MAX) ? L : NTB_MAX;
  localparam int BC_W = $clog2(((BC_M1 > BC_M2) ? BC_M1 : BC_M2) + 1);  // part element counter
  localparam int NBIAS = 8;                            // bias RAM entries (blocks in flight)
  localparam int SH_W = $clog2(ACC_W);
  localparam int AI_W = $clog2(T_MAX);                // accumulator RAM address
  localparam int SW = $clog2(T_MAX + L + 1);           // slot counter (padded rows)
  localparam int PW = 18;
  localparam int SUM_W = PW + LG;
  localparam int T0 = 6 + LG;                          // tree sum valid
  localparam int EW = T0 + 9;                          // write cycle
  localparam logic [1:0] DST_AM = 2'd0, DST_AMT = 2'd1, DST_XB = 2'd2, DST_RES = 2'd3;

  // ---- configuration registers ---------------------------------------------------------------
  // Taken at the start edge (cycle 0); the epilogue constants are decoded from them in cycles 1
  // and 2 (first used in cycle T0 + 1 after the first row's issue, which is at cycle 3 or later).
  logic run;
  logic take;                                          // the instruction is taken at this edge
  assign take = start && !busy;
  logic cfg1, cfg2;                                    // cycles 1 and 2 of the instruction
  logic [SW-1:0] c_rows_m1, c_rows_m2, c_rp_m2;        // R - 1, R - 2, L * ceil(R / L) - 2
  logic [CNT_W-1:0] c_kc1, c_kc2, c_nb2;               // KC - 1, KC - 2, NB - 2
  logic [L-1:0] c_nmask, c_kmask;
  logic [AM_AW-1:0] c_act_base, c_act_stride, c_ws, c_ws3, c_lws;
  logic c_act_signed, c_w_am, c_w16, c_bias, c_table, c_res, c_raw, c_osigned;
  logic [1:0] c_dst;
  logic [DA_W-1:0] c_dst_stride, c_lds;
  logic [TG_WD-1:0] c_ng2;                             // table groups - 2
  logic signed [6:0] c_shift;
  logic signed [5:0] c_align;
  logic [4:0] c_obits;
  logic [3:0] c_tin;
  // epilogue constants (cycle 1)
  logic [4:0] e_a_amt;
  logic e_a_acc;
  logic [SH_W-1:0] e_sh, e_rb_pos;
  logic e_rnd_en, e_zero_out, e_tbl_os;
  logic [ACC_W-1:0] e_st_mask;
  logic signed [ACC_W-1:0] e_min, e_max;
  logic [TBL_BITS-1:0] e_tbl_flip, e_tbl_mask;

  // table size from the cfg port (the loader needs it in cycle 1): decodes, no adder
  logic [TG_WD-1:0] d_ng2;
  logic [BC_W-1:0] d_ntb1, d_ntb2;
  logic d_ng_one;
  always_comb begin
    d_ng_one = int'(cfg_table_in_bits) <= GB;  // one group
    for (int i = 0; i < TG_WD; i++) begin  // 2^(in - GB) - 2 (used when there are >= 2 groups)
      d_ng2[i] = i >= 1 && i + GB < int'(cfg_table_in_bits);
    end
    for (int i = 0; i < BC_W; i++) begin   // 2^(in - log2 SB) - 1 and - 2
      d_ntb1[i] = i + GB + GPB_L < int'(cfg_table_in_bits);
      d_ntb2[i] = i >= 1 && i + GB + GPB_L < int'(cfg_table_in_bits);
    end
  end

  always_ff @(posedge clk) begin
    if (take) begin
      c_rows_m1 <= SW'(cfg_rows - 1'b1);
      c_rows_m2 <= SW'(cfg_rows - RW'(2));
      c_rp_m2 <= (SW'(cfg_rows - 1'b1) | SW'(L - 1)) - 1'b1;
      c_kc1 <= cfg_kc - 1'b1;
      c_kc2 <= cfg_kc - CNT_W'(2);
      c_nb2 <= cfg_nb - CNT_W'(2);
      for (int i = 0; i < L; i++) begin
        c_nmask[i] <= i < int'(cfg_n_last);
        c_kmask[i] <= i < int'(cfg_k_last);
      end
      c_act_base <= cfg_act_base;
      c_act_stride <= cfg_act_stride;
      c_act_signed <= cfg_act_signed;
      c_w_am <= cfg_w_am;
      c_ws <= cfg_w_stride;
      c_ws3 <= (cfg_w_stride << 1) + cfg_w_stride;
      c_lws <= cfg_w_stride << LG;
      c_w16 <= cfg_w16;
      c_bias <= cfg_bias;
      c_table <= cfg_table;
      c_res <= cfg_res;
      c_raw <= cfg_raw;
      c_osigned <= cfg_out_signed;
      c_dst <= cfg_dst;
      c_dst_stride <= cfg_dst_stride;
      c_lds <= cfg_dst_stride << LG;
      c_ng2 <= d_ng2;
      c_shift <= cfg_shift;
      c_align <= cfg_res ? cfg_res_align : 6'sd0;
      c_obits <= cfg_out_bits;
      c_tin <= cfg_table_in_bits;
      e_tbl_os <= cfg_table_out_signed;
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      cfg1 <= 1'b0;
      cfg2 <= 1'b0;
    end else begin
      cfg1 <= take;
      cfg2 <= cfg1;
    end
  end

  // epilogue constants: s = shift - min(align, 0) (7 bits, cycle 1), then bit decodes of s,
  // out_bits, in_bits (cycle 2)
  logic [6:0] k_s;
  always_ff @(posedge clk) begin
    if (cfg1) begin
      k_s <= 7'(c_shift) + (c_align[5] ? 7'(-c_align) : 7'd0);
    end
  end
  always_ff @(posedge clk) begin
    if (cfg2) begin
      e_a_amt <= c_align[5] ? 5'(-c_align) : c_align[4:0];
      e_a_acc <= c_align[5];
      e_zero_out <= int'(k_s) >= ACC_W;
      e_sh <= SH_W'(k_s);
      e_rnd_en <= k_s != 7'd0 && int'(k_s) < ACC_W;
      e_rb_pos <= SH_W'(k_s - 7'd1);
      for (int i = 0; i < ACC_W; i++) begin
        e_st_mask[i] <= i + 2 <= int'(k_s);                                  // bits s-2 .. 0
        e_max[i] <= c_osigned ? i + 1 < int'(c_obits) : i < int'(c_obits);   // 2^(b-1) - 1 or 2^b - 1
        e_min[i] <= c_osigned && i + 1 >= int'(c_obits);                     // -2^(b-1) or 0
      end
      for (int i = 0; i < TBL_BITS; i++) begin
        e_tbl_flip[i] <= c_osigned && i + 1 == int'(c_tin);                  // the input's sign bit
        e_tbl_mask[i] <= i < int'(c_tin);
      end
    end
  end

  // ---- slot tags -----------------------------------------------------------------------------
  localparam int TG_S = 0, TG_V = 1, TG_FST = 2, TG_C0 = 3, TG_CL = 4, TG_LB = 5, TG_BEND = 6;
  localparam int TG_FIN = 7, TG_BT = 8, TG_J = 11, TG_ROW = TG_J + LG, TG_DA = TG_ROW + RW;
  localparam int TG_W = TG_DA + DA_W;
  logic [TG_W-1:0] tg0;
  logic [TG_W-1:0] tg[1:EW];

  // ---- loader: table, bias, weight tiles into the shadow chain -------------------------------
  // Parts: [table], per block [bias], per tile the tile's beats (stream) or L row reads (AM).
  // ld_n counts the elements of the current part; the "last element", "last chunk" and "last
  // block" conditions are registered flags, so the stream handshake reaches the next-state logic
  // through a few LUTs and no comparator.
  typedef enum logic [2:0] {
    LD_IDLE,
    LD_TABLE,
    LD_BIAS,
    LD_TILE,
    LD_END
  } ld_state_t;
  ld_state_t ld_st;
  logic [CNT_W-1:0] ld_b, ld_c, blocks_done;
  logic [BC_W-1:0] ld_n, ld_lim2;     // element of the part, index of its last element - 1
  logic ld_lastq, ld_firstq;          // ld_n == ld_lim, ld_n == 0
  logic ld_lastb, ld_lastc;           // ld_b == NB - 1, ld_c == KC - 1
  logic ld_wait;                      // the chain holds a loaded tile not yet issued
  logic sh_ready;                     // a complete tile waits in the chain
  logic [AM_AW-1:0] ld_wblk, ld_wt0, ld_wptr;
  logic swap_pend, chain_ok, bias_ok, tb_free, pop, am_rd, consume, part_end;
  logic ld_tile_last;
  logic tb_valid, tb_last_grp, tw_endq;
  logic [SB*8-1:0] tb_data;
  logic [TG_WD-1:0] tw_g;
  logic issue_start;
  logic [BC_W-1:0] c_tile_lim2;       // beats / rows of a tile - 2
  logic c_tile_lim0;                  // a tile is one beat

  // A popped beat reaches the chain a cycle later (piece register), so the stream may pop the
  // next tile's first beat two cycles after that tile's issue started (its chain step then
  // coincides with the swap edge, which is allowed); AM rows (data RD_LAT + 1 cycles after the
  // read) may be read from the issue cycle on.
  assign swap_pend = tg[1][TG_FST];
  assign chain_ok = !ld_wait && !swap_pend;
  // Bias RAM interlock, registered: ld_b grows by at most one a cycle, so (ld_b - done) < 7 now
  // means < 8 next cycle.  It never binds (module header); it guards the RAM all the same.
  always_ff @(posedge clk) begin
    if (take) begin
      bias_ok <= 1'b1;
    end else begin
      bias_ok <= (CNT_W + 1)'(ld_b) - (CNT_W + 1)'(blocks_done) < (CNT_W + 1)'(NBIAS - 1);
    end
  end
  assign tb_last_grp = tb_valid && tw_endq;
  assign tb_free = !tb_valid || tw_endq;
  always_comb begin
    unique case (ld_st)
      LD_TABLE: ps_tready = tb_free;
      LD_BIAS:  ps_tready = bias_ok;
      LD_TILE:  ps_tready = !c_w_am && chain_ok;
      default:  ps_tready = 1'b0;
    endcase
  end
  assign pop = ps_tvalid && ps_tready;
  assign am_rd = ld_st == LD_TILE && c_w_am && (!ld_wait || issue_start);
  assign consume = pop || am_rd;
  assign part_end = consume && ld_lastq;
  assign ld_tile_last = part_end && ld_st == LD_TILE;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      ld_st <= LD_IDLE;
      ld_wait <= 1'b0;
      tb_valid <= 1'b0;
    end else if (take) begin
      ld_st <= cfg_table ? LD_TABLE : cfg_bias ? LD_BIAS : LD_TILE;
      c_tile_lim2 <= cfg_w_am ? BC_W'(L - 2) : cfg_w16 ? BC_W'(TB16 - 2) : BC_W'(TB8 - 2);
      c_tile_lim0 <= !cfg_w_am && (cfg_w16 ? TB16 == 1 : TB8 == 1);
      ld_lim2 <= cfg_table ? d_ntb2 : cfg_bias ? BC_W'(BB - 2)
                 : cfg_w_am ? BC_W'(L - 2) : cfg_w16 ? BC_W'(TB16 - 2) : BC_W'(TB8 - 2);
      ld_lastq <= cfg_table ? d_ntb1 == '0 : cfg_bias ? BB == 1 : !cfg_w_am && (cfg_w16 ? TB16 == 1 : TB8 == 1);
      ld_firstq <= 1'b1;
      ld_b <= '0;
      ld_c <= '0;
      ld_lastb <= cfg_nb == CNT_W'(1);
      ld_lastc <= cfg_kc == CNT_W'(1);
      ld_n <= '0;
      ld_wait <= 1'b0;
      tb_valid <= 1'b0;
      tw_g <= '0;
      tw_endq <= GPB == 1 || d_ng_one;
      ld_wblk <= cfg_w_base + (cfg_w_stride << LG) - (cfg_w_stride << 1);
      ld_wt0 <= cfg_w_base + (cfg_w_stride << LG) - (cfg_w_stride << 1);
    end else begin
      // table holding register and writer
      if (tb_valid) begin
        tw_g <= tw_g + 1'b1;
        tw_endq <= GPB == 1 || 32'(tw_g) % GPB == GPB - 2 || tw_g == c_ng2;
      end
      if (ld_st == LD_TABLE && pop) begin
        tb_valid <= 1'b1;
        tb_data <= ps_tdata;
      end else if (tb_last_grp) begin
        tb_valid <= 1'b0;
      end
      // part counters and the next part
      if (consume) begin
        ld_firstq <= ld_lastq;
        if (ld_lastq) begin
          ld_n <= '0;
          if (ld_st == LD_TABLE) begin
            ld_st <= c_bias ? LD_BIAS : LD_TILE;
            ld_lim2 <= c_bias ? BC_W'(BB - 2) : c_tile_lim2;
            ld_lastq <= c_bias ? BB == 1 : c_tile_lim0;
          end else if (ld_st == LD_BIAS) begin
            ld_st <= LD_TILE;
            ld_lim2 <= c_tile_lim2;
            ld_lastq <= c_tile_lim0;
          end else if (ld_lastb && ld_lastc) begin
            ld_st <= LD_END;
          end else if (ld_lastc && c_bias) begin
            ld_st <= LD_BIAS;
            ld_lim2 <= BC_W'(BB - 2);
            ld_lastq <= BB == 1;
          end else begin
            ld_lim2 <= c_tile_lim2;
            ld_lastq <= c_tile_lim0;
          end
        end else begin
          ld_n <= ld_n + 1'b1;
          ld_lastq <= ld_n == ld_lim2;
        end
      end
      if (am_rd) begin
        ld_wptr <= (ld_firstq ? ld_wt0 : ld_wptr) + (ld_n[0] ? -c_ws3 : c_ws);
      end
      if (ld_tile_last) begin
        ld_wait <= 1'b1;
        if (ld_lastc) begin
          ld_c <= '0;
          ld_lastc <= c_kc1 == '0;
          ld_b <= ld_b + 1'b1;
          ld_lastb <= ld_b == c_nb2;
          ld_wblk <= ld_wblk + c_lws;
          ld_wt0 <= ld_wblk + c_lws;
        end else begin
          ld_c <= ld_c + 1'b1;
          ld_lastc <= ld_c == c_kc2;
          ld_wt0 <= ld_wt0 + 1'b1;
        end
      end
      if (issue_start) begin
        ld_wait <= 1'b0;
      end
      if (done) begin
        ld_st <= LD_IDLE;
      end
    end
  end

  assign w_rd_en = am_rd;
  assign w_rd_addr = ld_firstq ? ld_wt0 : ld_wptr;

  // ---- table write bus -----------------------------------------------------------------------
  logic tw_en;
  logic [TA_W-1:0] tw_addr;
  logic [TBL_G*8-1:0] tw_data;
  assign tw_en = tb_valid;
  assign tw_addr = TA_W'(tw_g);
  if (GPB > 1) begin : g_tw_sel
    assign tw_data = tb_data[tw_g[GPB_L-1:0]*TBL_G*8+:TBL_G*8];
  end else begin : g_tw_whole
    assign tw_data = tb_data[TBL_G*8-1:0];
  end

  // ---- bias RAM (per lane, NBIAS blocks) ------------------------------------------------------
  logic [L*ACC_W-1:0] bias_q;
  for (genvar n = 0; n < L; n++) begin : g_bias
    logic [ACC_W-1:0] bmem[NBIAS];
    logic we;
    assign we = ld_st == LD_BIAS && pop && (32'(ld_n) * BL <= n) && (n < (32'(ld_n) + 1) * BL);
    always_ff @(posedge clk) begin
      if (we) begin
        bmem[ld_b[2:0]] <= ps_tdata[(n%BL)*32+:ACC_W];
      end
      bias_q[n*ACC_W+:ACC_W] <= bmem[tg[T0][TG_BT+:3]];
    end
  end

  // ---- pieces, assembler, chain steps --------------------------------------------------------
  logic am_p1, am_p2, am_p1_kl, am_p2_kl;
  logic pv_in, pv;                                     // a piece arrives / is in the piece register
  logic [1:0] pmode;                                   // 0: 8-bit beat, 1: 16-bit beat, 2: AM row
  logic [CS*9-1:0] piece_in, piece, asm_r, asm_next;
  logic [PC_W-1:0] pc;
  logic step_valid, step_odd;
  logic [SC_W-1:0] sc;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      am_p1 <= 1'b0;
      am_p2 <= 1'b0;
    end else begin
      am_p1 <= am_rd;
      am_p2 <= am_p1;
    end
    am_p1_kl <= ld_lastc;
    am_p2_kl <= am_p1_kl;
  end

  assign pv_in = c_w_am ? am_p2 : (ld_st == LD_TILE && pop);
  assign pmode = c_w_am ? 2'd2 : c_w16 ? 2'd1 : 2'd0;
  always_comb begin
    piece_in = '0;
    for (int i = 0; i < CS; i++) begin
      if (c_w_am) begin
        if (i < L) begin
          piece_in[i*9+:9] = (am_p2_kl && !c_kmask[i]) ? 9'd0 : {w_rd_data[i*8+7], w_rd_data[i*8+:8]};
        end
      end else if (c_w16) begin
        if (i < P16) begin
          piece_in[i*9+:9] = ps_tdata[i*16+:9];
        end
      end else begin
        if (i < P8) begin
          piece_in[i*9+:9] = {ps_tdata[i*8+7], ps_tdata[i*8+:8]};
        end
      end
    end
  end
  // the piece register: the chain's shift enable (fan-out L*L*9) starts at a flip-flop
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      pv <= 1'b0;
    end else begin
      pv <= pv_in;
    end
    piece <= piece_in;
  end
  for (genvar e = 0; e < CS; e++) begin : g_asm
    logic [8:0] n8, n16, nam;
    if (e >= CS - P8) begin : g_p8
      assign n8 = piece[(e-(CS-P8))*9+:9];
    end else begin : g_s8
      assign n8 = asm_r[(e+P8)*9+:9];
    end
    if (e >= CS - P16) begin : g_p16
      assign n16 = piece[(e-(CS-P16))*9+:9];
    end else begin : g_s16
      assign n16 = asm_r[(e+P16)*9+:9];
    end
    if (e >= CS - L) begin : g_pam
      assign nam = piece[(e-(CS-L))*9+:9];
    end else begin : g_sam
      assign nam = asm_r[(e+L)*9+:9];
    end
    assign asm_next[e*9+:9] = pmode == 2'd2 ? nam : pmode == 2'd1 ? n16 : n8;
  end
  assign step_valid = pv && pc == (pmode == 2'd2 ? PC_W'(PPSAM - 1) : pmode == 2'd1 ? PC_W'(PPS16 - 1)
                                                 : PC_W'(PPS8 - 1));
  assign step_odd = sc[0];

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      sh_ready <= 1'b0;
    end else begin
      if (take) begin
        pc <= '0;
        sc <= '0;
      end else begin
        if (pv) begin
          asm_r <= asm_next;
          pc <= step_valid ? '0 : pc + 1'b1;
        end
        if (step_valid) begin
          sc <= (sc == SC_W'(SPT - 1)) ? '0 : sc + 1'b1;
        end
      end
      if (step_valid && sc == SC_W'(SPT - 1)) begin
        sh_ready <= 1'b1;
      end else if (issue_start) begin
        sh_ready <= 1'b0;
      end
    end
  end

  // ---- issue: one slot (activation row) a cycle ----------------------------------------------
  // The tile to start next (nx_*) and the one issuing (cur_*) carry registered flags (first /
  // last chunk, last block); is_lastq / is_vq say whether the next slot is the tile's last / a
  // valid row, so the issue decision reaches the tags through a few LUTs.
  logic is_active, nx_done, issue;
  logic [SW-1:0] is_r, slot_r, cur_lim2, s_lim2;       // slots - 2 of the tile
  logic [CNT_W-1:0] nx_b, nx_c;
  logic [2:0] cur_bt, s_bt;                            // block index mod NBIAS
  logic cur_c0, cur_cl, cur_lb, nx_c0, nx_cl, nx_lb, is_lastq, is_vq, c_r1;
  logic [AM_AW-1:0] aptr, nx_abase, s_aaddr;
  logic [DA_W-1:0] dptr, nx_dbase, nx_dblk, s_daddr;
  logic s_c0, s_cl, s_lb, s_last, s_v;

  assign issue_start = run && !is_active && sh_ready && !nx_done;
  assign issue = issue_start || is_active;
  assign slot_r = issue_start ? '0 : is_r;
  assign s_bt = issue_start ? nx_b[2:0] : cur_bt;
  assign s_c0 = issue_start ? nx_c0 : cur_c0;
  assign s_cl = issue_start ? nx_cl : cur_cl;
  assign s_lb = issue_start ? nx_lb : cur_lb;
  // a tile's slots: R, or L * ceil(R / L) >= 2 for the last chunk of a transposed destination
  assign s_lim2 = issue_start ? ((c_dst == DST_AMT && nx_cl) ? c_rp_m2 : c_rows_m2) : cur_lim2;
  assign s_last = issue_start ? c_r1 && !(c_dst == DST_AMT && nx_cl) : is_lastq;
  assign s_v = issue_start || is_vq;
  assign s_aaddr = issue_start ? nx_abase : aptr;
  assign s_daddr = issue_start ? (c_dst == DST_AMT ? nx_dblk : nx_dbase) : dptr;

  always_comb begin
    tg0 = '0;
    if (issue) begin
      tg0[TG_S] = 1'b1;
      tg0[TG_V] = s_v;
      tg0[TG_FST] = issue_start;
      tg0[TG_C0] = s_c0;
      tg0[TG_CL] = s_cl;
      tg0[TG_LB] = s_lb;
      tg0[TG_BEND] = s_last && s_cl;
      tg0[TG_FIN] = s_last && s_cl && s_lb;
      tg0[TG_BT+:3] = s_bt;
      tg0[TG_J+:LG] = slot_r[LG-1:0];
      tg0[TG_ROW+:RW] = RW'(slot_r);
      tg0[TG_DA+:DA_W] = s_daddr;
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      is_active <= 1'b0;
      nx_done <= 1'b1;
    end else if (take) begin
      is_active <= 1'b0;
      nx_done <= 1'b0;
      nx_b <= '0;
      nx_c <= '0;
      nx_c0 <= 1'b1;
      nx_cl <= cfg_kc == CNT_W'(1);
      nx_lb <= cfg_nb == CNT_W'(1);
      c_r1 <= cfg_rows == RW'(1);
      nx_abase <= cfg_act_base;
      nx_dbase <= cfg_dst_base;
      nx_dblk <= cfg_dst_base;
    end else if (issue) begin
      aptr <= s_aaddr + c_act_stride;
      dptr <= c_dst == DST_AMT ? s_daddr + DA_W'(slot_r[LG-1:0] == LG'(L - 1)) : s_daddr + c_dst_stride;
      is_r <= s_last ? '0 : slot_r + 1'b1;
      is_active <= !s_last;
      cur_lim2 <= s_lim2;
      is_lastq <= slot_r == s_lim2;
      is_vq <= slot_r < c_rows_m1;
      if (issue_start) begin
        cur_bt <= nx_b[2:0];
        cur_c0 <= nx_c0;
        cur_cl <= nx_cl;
        cur_lb <= nx_lb;
        if (nx_lb && nx_cl) begin
          nx_done <= 1'b1;
        end
        if (nx_cl) begin
          nx_c <= '0;
          nx_c0 <= 1'b1;
          nx_cl <= c_kc1 == '0;
          nx_b <= nx_b + 1'b1;
          nx_lb <= nx_b == c_nb2;
          nx_abase <= c_act_base;
          nx_dbase <= nx_dbase + 1'b1;
          nx_dblk <= nx_dblk + c_lds;
        end else begin
          nx_c <= nx_c + 1'b1;
          nx_c0 <= 1'b0;
          nx_cl <= nx_c == c_kc2;
          nx_abase <= nx_abase + 1'b1;
        end
      end
    end
  end

  assign act_rd_en = issue && s_v;
  assign act_rd_addr = s_aaddr;

  // ---- tag pipeline --------------------------------------------------------------------------
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      for (int d = 1; d <= EW; d++) begin
        tg[d] <= '0;
      end
    end else begin
      tg[1] <= tg0;
      for (int d = 2; d <= EW; d++) begin
        tg[d] <= tg[d-1];
      end
    end
  end

  // ---- array ---------------------------------------------------------------------------------
  logic [L*9-1:0] act_q;
  logic [L*SUM_W-1:0] sums;
  logic [L-1:0] couts;
  always_ff @(posedge clk) begin
    for (int k = 0; k < L; k++) begin
      act_q[k*9+:9] <= {c_act_signed && act_rd_data[k*8+7], act_rd_data[k*8+:8]};
    end
  end

  spvit_ov_gemm_array #(
      .L(L),
      .PACK(PACK),
      .PACK_SHIFT(PACK_SHIFT),
      .CS(CS)
  ) u_array (
      .clk(clk),
      .step_valid(step_valid),
      .step_odd(step_odd),
      .step_data(asm_next),
      .swap(tg[3][TG_FST]),
      .act(act_q),
      .sums(sums),
      .couts(couts)
  );

  // ---- accumulator RAM (T_MAX x L x ACC_W, 2-cycle read) -------------------------------------
  logic [L*ACC_W-1:0] acc_mem[T_MAX];
  logic [L*ACC_W-1:0] acc_rq1, acc_rq2, accsum;
  always_ff @(posedge clk) begin
    acc_rq1 <= acc_mem[AI_W'(tg[T0-2][TG_ROW+:RW])];
    acc_rq2 <= acc_rq1;
    for (int n = 0; n < L; n++) begin
      accsum[n*ACC_W+:ACC_W] <= ACC_W'($signed(sums[n*SUM_W+:SUM_W]))
                                + (tg[T0][TG_C0] ? '0 : acc_rq2[n*ACC_W+:ACC_W]) + ACC_W'(couts[n]);
    end
    if (tg[T0+1][TG_V] && !tg[T0+1][TG_CL]) begin
      acc_mem[AI_W'(tg[T0+1][TG_ROW+:RW])] <= accsum;
    end
  end

  always_ff @(posedge clk) begin
    if (take) begin
      blocks_done <= '0;
    end else if (tg[T0][TG_BEND]) begin
      blocks_done <= blocks_done + 1'b1;
    end
  end

  // ---- residual read --------------------------------------------------------------------------
  assign xb_rd_en = tg[T0-1][TG_V] && tg[T0-1][TG_CL] && c_res;
  assign xb_rd_addr = XB_AW'(tg[T0-1][TG_DA+:DA_W]);

  // ---- epilogue lanes --------------------------------------------------------------------------
  logic [L*ACC_W-1:0] eout;
  for (genvar n = 0; n < L; n++) begin : g_epi
    spvit_ov_gemm_epi #(
        .ACC_W(ACC_W),
        .X_W(X_W),
        .TBL_BITS(TBL_BITS),
        .TBL_G(TBL_G)
    ) u_epi (
        .clk(clk),
        .bias_en(c_bias),
        .res_en(c_res),
        .a_amt(e_a_amt),
        .a_acc(e_a_acc),
        .sh(e_sh),
        .rnd_en(e_rnd_en),
        .rb_pos(e_rb_pos),
        .st_mask(e_st_mask),
        .zero_out(e_zero_out),
        .raw(c_raw),
        .min_v(e_min),
        .max_v(e_max),
        .tbl_en(c_table),
        .tbl_os(e_tbl_os),
        .tbl_flip(e_tbl_flip),
        .tbl_mask(e_tbl_mask),
        .tw_en(tw_en),
        .tw_addr(tw_addr),
        .tw_data(tw_data),
        .acc(accsum[n*ACC_W+:ACC_W]),
        .bias(bias_q[n*ACC_W+:ACC_W]),
        .res(xb_rd_data[n*X_W+:X_W]),
        .out(eout[n*ACC_W+:ACC_W])
    );
  end

  // ---- destinations (cycle EW) -----------------------------------------------------------------
  logic [TG_W-1:0] tgw;
  logic w_row;
  logic [L-1:0] w_be;
  logic [L*8-1:0] e8;
  assign tgw = tg[EW];
  assign w_row = tgw[TG_V] && tgw[TG_CL];
  assign w_be = tgw[TG_LB] ? c_nmask : '1;
  always_comb begin
    for (int n = 0; n < L; n++) begin
      e8[n*8+:8] = eout[n*ACC_W+:8];
      xb_wr_data[n*X_W+:X_W] = eout[n*ACC_W+:X_W];
      res_wr_data[n*32+:32] = 32'($signed(eout[n*ACC_W+:ACC_W]));
    end
  end

  logic tr_wr_en, tr_done;
  logic [AM_AW-1:0] tr_wr_addr;
  logic [L-1:0] tr_wr_be;
  logic [L*8-1:0] tr_wr_data;
  spvit_ov_gemm_tr #(
      .L  (L),
      .A_W(AM_AW)
  ) u_tr (
      .clk(clk),
      .rst_n(rst_n),
      .in_slot(tgw[TG_S] && tgw[TG_CL] && c_dst == DST_AMT),
      .in_valid(tgw[TG_V]),
      .in_j(tgw[TG_J+:LG]),
      .in_data(e8),
      .in_addr(AM_AW'(tgw[TG_DA+:DA_W])),
      .in_lb(tgw[TG_LB]),
      .in_fin(tgw[TG_FIN]),
      .n_mask(c_nmask),
      .stride(AM_AW'(c_dst_stride)),
      .wr_en(tr_wr_en),
      .wr_addr(tr_wr_addr),
      .wr_be(tr_wr_be),
      .wr_data(tr_wr_data),
      .done(tr_done)
  );

  assign am_wr_en = (w_row && c_dst == DST_AM) || tr_wr_en;
  assign am_wr_addr = c_dst == DST_AMT ? tr_wr_addr : AM_AW'(tgw[TG_DA+:DA_W]);
  assign am_wr_be = c_dst == DST_AMT ? tr_wr_be : w_be;
  assign am_wr_data = c_dst == DST_AMT ? tr_wr_data : e8;
  assign xb_wr_en = w_row && c_dst == DST_XB;
  assign xb_wr_addr = XB_AW'(tgw[TG_DA+:DA_W]);
  assign xb_wr_be = w_be;
  assign res_wr_en = w_row && c_dst == DST_RES;
  assign res_wr_addr = RS_AW'(tgw[TG_DA+:DA_W]);
  assign res_wr_be = w_be;

  // ---- start / busy / done -------------------------------------------------------------------
  logic done_r;
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      run <= 1'b0;
      done_r <= 1'b0;
    end else begin
      done_r <= run && tgw[TG_FIN] && c_dst != DST_AMT;
      if (take) begin
        run <= 1'b1;
      end else if (done) begin
        run <= 1'b0;
      end
    end
  end
  assign done = done_r || tr_done;
  assign busy = run && !done;  // low in the done cycle: the next instruction may be taken then

  logic unused_bits;
  assign unused_bits = ^{ps_tdata, eout, tgw, asm_r};
endmodule
