// spvit_ov_softmax: the overlay engine's softmax unit (instruction SOFTMAX), configured at run
// time: rows of an int8 score tensor in AM -> rows of unsigned int8 probabilities in AM.
//
// Per row x_0 .. x_(n-1) (intops.int_softmax, exactly):
//   m   = max_j x_j                                            (pass A: max)
//   k_j = min(m - x_j, entries - 1);  E_j = T_exp[k_j];  S = sum_j E_j     (pass B: exp and sum)
//   p_j = sat_p( RNE(E_j * 2^f_p / S) )                        (pass C: divide)
// sat_p clamps to the unsigned cfg_prob_bits-bit range (a one-element row gives 2^f_p, which
// saturates when f_p = bits).
//
// Operands.  Row r is AM words cfg_src_base + r*cfg_src_stride + w (w = 0 .. ceil(n/L) - 1; lane l
// of word w = element w*L + l), signed or unsigned 8-bit lanes by cfg_in_signed.  The
// probabilities of row r go to AM words cfg_dst_base + r*cfg_dst_stride + w, unsigned 8-bit lanes;
// lanes at or beyond n in the row's last word are not written (their lane enables are 0).  One
// AM read port (the score tensor's bank) and one AM write port (the probability tensor's bank):
// the top routes them to the banks the instruction names.  The unit writes SM lanes a cycle
// (one write a chunk, enables on the chunk's lanes), so an output word takes L/SM writes.
//
// Param blob (layout.py add_table16): the exp table, cfg_entries x 16-bit lanes (unsigned),
// ceil(2*entries/SB) beats, popped first when cfg_load_table = 1 (cfg_load_table = 0 keeps the
// table of an earlier instruction and pops nothing).  The table is kept in SM/2 copies of
// EXP_DEPTH x 16 bits, each with one read-write port (the load, then the lookups of an even lane)
// and one read port (an odd lane): entries are written one a cycle, to every copy at once.
//
// Pipeline.  A row is W = ceil(n/SM) chunks of SM elements.  Three passes, each one chunk a
// cycle, run on consecutive rows at once: while pass C divides row r, pass B sums row r+1 and
// pass A takes the max of row r+2.  Pass A reads AM (one word read a chunk, the chunk selected
// from it), runs a registered max tree and writes the raw chunk into a circular row buffer; pass
// B starts a row the cycle after its max is known, reads the buffer, looks the SM exponentials
// up, sums them (registered adder tree) and writes them into a second circular buffer; pass C
// starts a row the cycle after its sum is known, reads the exponentials and divides them in SM
// pipelined dividers (spvit_ov_softmax_div: 2 quotient bits a stage, a division per lane every
// cycle), saturates and writes.  After the table is loaded the schedule is static.
//
// Cycle formula (start = the cycle start is high, done = the cycle done is high; param stream
// never stalling; R = cfg_rows, W = ceil(n/SM), NS = ceil((PF_MAX + 1)/2); checked exactly by
// rtl_sim/tb_ov_softmax.py):
//   cycles = LOAD + (R + 2) * W + 17 + 2 * log2(SM) + NS,   LOAD = entries + 1 (0 with
//   cfg_load_table = 0);  R = 0: LOAD + 1.
// (the table's entries are written one a cycle after the first pop; pass A issues a chunk a cycle
// from 2 cycles later; a row's max is known 5 + log2 SM cycles after its last chunk, its sum
// 7 + log2 SM cycles after pass B's last chunk, and pass C writes a chunk 5 + NS cycles after
// issuing it.)
// Rows follow each other every W cycles: throughput ceil(n/SM) cycles a row.
//
// Hardware: SM pipelined dividers (no DSP), SM/2 exp-table copies (BRAM18 each at 256 entries),
// two circular buffers of BD chunks (SM x 8 and SM x 16 bits: LUT RAM), registered max and adder
// trees.  Yosys synth_xilinx (0.70) of the DeiT-S size (L = 64, SM = 32, T_MAX = 200, 256
// entries): no DSP, 16 BRAM18, 20.3 k LUT (most in the dividers: 32 lanes x 10 compare-subtracts of
// 25 bits), 10.9 k FF; at L = SM = 8: 5.3 k LUT, 4 BRAM18.  Longest chains in the L = SM = 8
// netlist (structural, Yosys ltp): 6 LUTs between registers/carry chains; the longest path by
// cell count is a divider stage (two chained 25-bit subtractions, 3 LUTs).
// Preconditions: L, SM powers of two, 2 <= SM <= L; 1 <= cfg_len <= T_MAX; 1 <= cfg_entries <=
// EXP_DEPTH; cfg_prob_frac <= PF_MAX; 1 <= cfg_prob_bits <= 8; the table entries < 2^16 with
// entries * 2^16 fitting S (E_0 > 0, so S > 0); a start is ignored while busy.
module spvit_ov_softmax #(
    parameter int L         = 8,    // lanes an AM word (power of two)
    parameter int SB        = 32,   // bytes a param-stream beat (even)
    parameter int SM        = 8,    // softmax lanes: elements a cycle a pass (power of two, divides L)
    parameter int T_MAX     = 64,   // longest row
    parameter int EXP_DEPTH = 256,  // most exp-table entries
    parameter int PF_MAX    = 8,    // largest probability frac
    parameter int ROW_W     = 12,   // width of cfg_rows
    parameter int AM_AW     = 16    // AM word address width
) (
    input  logic                      clk,
    input  logic                      rst_n,
    // control
    input  logic                      start,            // one-cycle pulse; cfg_* valid in this cycle
    output logic                      busy,             // from the cycle after start to the cycle before done
    output logic                      done,             // one-cycle pulse: every AM write is committed
    // configuration (registered at start)
    input  logic [ROW_W-1:0]          cfg_rows,         // rows (0: only the table is loaded)
    input  logic [15:0]               cfg_len,          // elements a row, n
    input  logic [AM_AW-1:0]          cfg_src_base,     // AM word of row 0 of the scores
    input  logic [AM_AW-1:0]          cfg_src_stride,   // AM words from one score row to the next
    input  logic [AM_AW-1:0]          cfg_dst_base,     // AM word of row 0 of the probabilities
    input  logic [AM_AW-1:0]          cfg_dst_stride,   // AM words from one probability row to the next
    input  logic                      cfg_in_signed,    // scores are signed
    input  logic [15:0]               cfg_entries,      // exp-table entries (k is clamped to entries - 1)
    input  logic                      cfg_load_table,   // 1: pop the table blob and load it
    input  logic [3:0]                cfg_prob_bits,    // prob_fmt.bits
    input  logic [3:0]                cfg_prob_frac,    // prob_fmt.frac
    // param stream
    input  logic [SB*8-1:0]           ps_tdata,
    input  logic                      ps_tvalid,
    output logic                      ps_tready,
    // AM read port (scores; data RD_LAT = 2 cycles after the enable)
    output logic                      am_rd_en,
    output logic [AM_AW-1:0]          am_rd_addr,
    input  logic [L*8-1:0]            am_rd_data,
    // AM write port (probabilities)
    output logic                      am_wr_en,
    output logic [AM_AW-1:0]          am_wr_addr,
    output logic [L-1:0]              am_wr_be,
    output logic [L*8-1:0]            am_wr_data
);
  // ---- derived sizes -----------------------------------------------------------------------------
  localparam int LGS = $clog2(SM);
  localparam int WPC = L / SM;                              // chunks a word
  localparam int G_W = (WPC > 1) ? $clog2(WPC) : 1;
  localparam int W_MAX = (T_MAX + SM - 1) / SM;             // chunks a row
  localparam int WC_W = $clog2(W_MAX + 1);
  localparam int K_W = (EXP_DEPTH > 1) ? $clog2(EXP_DEPTH) : 1;
  localparam int S_W = 16 + $clog2(T_MAX + 1);              // sum of at most T_MAX entries < 2^16
  localparam int Q_W = PF_MAX + 1;                          // quotient bits: E * 2^f <= S * 2^f
  localparam int NUM_W = 16 + PF_MAX;
  localparam int LA = 5 + LGS;                              // A issue -> max known
  localparam int LB = 7 + LGS;                              // B issue -> sum known
  localparam int BD = 1 << $clog2(W_MAX + LA + 1);          // circular buffer chunks
  localparam int BD_W = $clog2(BD);
  localparam int NCOPY = SM / 2;                            // exp-table copies (2 lookups each)
  localparam int EPB = SB / 2;                              // table entries a beat
  localparam int EB_W = (EPB > 1) ? $clog2(EPB) : 1;

  // ---- configuration -------------------------------------------------------------------------------
  typedef enum logic [1:0] {
    S_IDLE,
    S_LOAD,
    S_RUN
  } state_t;
  state_t state;

  logic [ROW_W-1:0] rows;
  logic [WC_W-1:0] wch;                                      // W
  logic [SM-1:0] last_mask;                                  // valid lanes of a row's last chunk
  logic [AM_AW-1:0] src_base, src_stride, dst_base, dst_stride;
  logic in_signed;
  logic [K_W-1:0] kmax;                                      // entries - 1
  logic [3:0] pfrac;
  logic [Q_W:0] pmax;                                        // 2^bits - 1

  always_ff @(posedge clk) begin
    if (start && state == S_IDLE) begin
      rows <= cfg_rows;
      wch <= WC_W'((32'(cfg_len) + SM - 1) >> LGS);
      for (int l = 0; l < SM; l++) begin
        last_mask[l] <= (32'(l) < ((32'(cfg_len) - 1) & (SM - 1)) + 1);
      end
      src_base <= cfg_src_base;
      src_stride <= cfg_src_stride;
      dst_base <= cfg_dst_base;
      dst_stride <= cfg_dst_stride;
      in_signed <= cfg_in_signed;
      kmax <= K_W'(cfg_entries - 16'd1);
      pfrac <= cfg_prob_frac;
      pmax <= (Q_W + 1)'((32'd1 << cfg_prob_bits) - 1);
    end
  end

  // ---- table load: one entry a cycle from the beat register into every copy --------------------
  // (the end-of-beat, end-of-table and more-beats conditions are registered flags: short paths)
  logic [SB*8-1:0] breg;                                     // the beat being written
  logic bhave;                                               // breg holds entries not yet written
  logic [15:0] wr_ent;                                       // next entry to write
  logic [EB_W-1:0] wr_lane;                                  // its lane in breg
  logic [15:0] beats_left;                                   // beats still to pop
  logic [15:0] ent_m2;                                       // entries - 2
  logic lane_last, ent_last, more_beats;                     // wr_lane = EPB-1, wr_ent = entries-1, beats_left > 0
  logic ent_last_of_beat, tw_en, ps_fire;
  logic [K_W-1:0] tw_addr;
  logic [15:0] tw_data;

  assign tw_en = (state == S_LOAD) && bhave;
  assign ent_last_of_beat = lane_last || ent_last;
  assign ps_tready = (state == S_LOAD) && more_beats && (!bhave || ent_last_of_beat);
  assign ps_fire = ps_tvalid && ps_tready;
  assign tw_addr = K_W'(wr_ent);
  assign tw_data = breg[32'(wr_lane)*16+:16];

  always_ff @(posedge clk) begin
    if (state != S_LOAD) begin
      bhave <= 1'b0;
      wr_ent <= '0;
      wr_lane <= '0;
      lane_last <= (EPB == 1);
      ent_last <= (cfg_entries == 16'd1);
      ent_m2 <= cfg_entries - 16'd2;
      beats_left <= 16'((32'(cfg_entries) * 2 + SB - 1) / SB);
      more_beats <= 1'b1;
    end else begin
      if (tw_en) begin
        wr_ent <= wr_ent + 16'd1;
        ent_last <= (wr_ent == ent_m2);
        if (ent_last_of_beat) begin
          wr_lane <= '0;
          lane_last <= (EPB == 1);
        end else begin
          wr_lane <= wr_lane + EB_W'(1);
          lane_last <= (32'(wr_lane) == EPB - 2);
        end
      end
      if (ps_fire) begin
        breg <= ps_tdata;
        bhave <= 1'b1;
        beats_left <= beats_left - 16'd1;
        more_beats <= (beats_left != 16'd1);
      end else if (tw_en && ent_last_of_beat) begin
        bhave <= 1'b0;
      end
    end
  end

  // ---- control -------------------------------------------------------------------------------------
  logic a_active, fin_write;
  logic run_go;                                              // first cycle of the rows

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      state <= S_IDLE;
      busy <= 1'b0;
      done <= 1'b0;
      run_go <= 1'b0;
    end else begin
      done <= 1'b0;
      run_go <= 1'b0;
      unique case (state)
        S_IDLE: begin
          if (start) begin
            busy <= 1'b1;
            if (cfg_load_table) begin
              state <= S_LOAD;
            end else if (cfg_rows == '0) begin
              busy <= 1'b0;
              done <= 1'b1;
            end else begin
              state <= S_RUN;
              run_go <= 1'b1;
            end
          end
        end
        S_LOAD: begin
          if (tw_en && ent_last) begin
            if (rows == '0) begin
              state <= S_IDLE;
              busy <= 1'b0;
              done <= 1'b1;
            end else begin
              state <= S_RUN;
              run_go <= 1'b1;
            end
          end
        end
        S_RUN: begin
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

  // ---- pass A: max ---------------------------------------------------------------------------------
  logic [ROW_W-1:0] a_row;
  logic [WC_W-1:0] a_j;
  logic [AM_AW-1:0] a_base, a_addr;                          // row base, word being read
  logic a_issue, a_jlast, a_rlast;

  assign a_issue = a_active;
  assign a_jlast = (a_j == wch - WC_W'(1));
  assign a_rlast = (a_row == rows - ROW_W'(1));
  assign am_rd_en = a_issue;
  assign am_rd_addr = a_addr;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      a_active <= 1'b0;
    end else if (run_go) begin
      a_active <= 1'b1;
    end else if (a_issue && a_jlast && a_rlast) begin
      a_active <= 1'b0;
    end
  end
  always_ff @(posedge clk) begin
    if (run_go) begin
      a_row <= '0;
      a_j <= '0;
      a_base <= src_base;
      a_addr <= src_base;
    end else if (a_issue) begin
      if (a_jlast) begin
        a_j <= '0;
        a_row <= a_row + ROW_W'(1);
        a_base <= a_base + src_stride;
        a_addr <= a_base + src_stride;
      end else begin
        a_j <= a_j + WC_W'(1);
        if (WPC == 1 || G_W'(a_j) == G_W'(WPC - 1)) begin  // the word's last chunk
          a_addr <= a_addr + AM_AW'(1);
        end
      end
    end
  end

  // chunk flags along pass A, fa_*[s] in cycle issue + s: valid, first, last chunk, the
  // instruction's last chunk, the chunk's lane group
  logic fa_v[1:LA];
  logic fa_first[1:LA];
  logic fa_last[1:LA];
  logic fa_fin[1:LA];
  logic [G_W-1:0] fa_g[1:2];
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      for (int s = 1; s <= LA; s++) fa_v[s] <= 1'b0;
    end else begin
      fa_v[1] <= a_issue;
      for (int s = 2; s <= LA; s++) fa_v[s] <= fa_v[s-1];
    end
    fa_first[1] <= (a_j == '0);
    fa_last[1] <= a_jlast;
    fa_fin[1] <= a_jlast && a_rlast;
    fa_g[1] <= G_W'(a_j);
    for (int s = 2; s <= LA; s++) begin
      fa_first[s] <= fa_first[s-1];
      fa_last[s] <= fa_last[s-1];
      fa_fin[s] <= fa_fin[s-1];
    end
    fa_g[2] <= fa_g[1];
  end

  // stage 2 -> 3: the chunk out of the word
  logic [SM*8-1:0] xa3;
  logic [SM-1:0] ma3;
  always_ff @(posedge clk) begin
    xa3 <= am_rd_data[(WPC > 1 ? 32'(fa_g[2]) : 0)*SM*8+:SM*8];
    ma3 <= fa_last[2] ? last_mask : '1;
  end

  // row buffer A -> B (circular, one chunk an entry): written in stage 3
  logic [SM*8-1:0] xbuf[BD];
  logic [BD_W-1:0] xb_wp, xb_rp;
  logic b_issue;
  logic [SM*8-1:0] xb_q;
  always_ff @(posedge clk) begin
    if (fa_v[3]) begin
      xbuf[xb_wp] <= xa3;
    end
    xb_q <= xbuf[xb_rp];
  end
  always_ff @(posedge clk) begin
    if (run_go) begin
      xb_wp <= '0;
      xb_rp <= '0;
    end else begin
      if (fa_v[3]) xb_wp <= xb_wp + BD_W'(1);
      if (b_issue) xb_rp <= xb_rp + BD_W'(1);
    end
  end

  // stage 3 -> 4: 9-bit values, masked lanes at the minimum; stages 4 .. 4 + LGS: max tree
  logic signed [SM*9-1:0] mx[0:LGS];
  always_ff @(posedge clk) begin
    for (int l = 0; l < SM; l++) begin
      mx[0][l*9+:9] <= !ma3[l] ? -9'sd256 : {in_signed & xa3[l*8+7], xa3[l*8+:8]};
    end
    for (int v = 1; v <= LGS; v++) begin
      mx[v] <= '0;
      for (int i = 0; i < (SM >> v); i++) begin
        mx[v][i*9+:9] <= ($signed(mx[v-1][2*i*9+:9]) > $signed(mx[v-1][(2*i+1)*9+:9]))
                         ? mx[v-1][2*i*9+:9] : mx[v-1][(2*i+1)*9+:9];
      end
    end
  end

  // stage 4 + LGS -> 5 + LGS: running max; the row's max is known in stage LA = 5 + LGS
  logic signed [8:0] mrun, cmax, m_out;
  logic m_valid, m_fin;
  assign cmax = $signed(mx[LGS][8:0]);
  always_ff @(posedge clk) begin
    if (fa_v[LA-1]) begin
      mrun <= (fa_first[LA-1] || cmax > mrun) ? cmax : mrun;
    end
    m_out <= (fa_first[LA-1] || cmax > mrun) ? cmax : mrun;
  end
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      m_valid <= 1'b0;
      m_fin <= 1'b0;
    end else begin
      m_valid <= fa_v[LA-1] && fa_last[LA-1];
      m_fin <= fa_v[LA-1] && fa_fin[LA-1];
    end
  end

  logic unused_fa;
  assign unused_fa = &{1'b0, fa_v[LA], fa_first[LA], fa_last[LA], fa_fin[LA], mx[LGS][SM*9-1:9]};

  // ---- pass B: exponentials and their sum ----------------------------------------------------------
  logic b_active;
  logic [WC_W-1:0] b_j, b_jc;
  logic b_jlast;
  logic signed [8:0] b_m, b_mc;
  logic b_fin, b_finc;

  assign b_issue = m_valid || b_active;
  assign b_jc = m_valid ? '0 : b_j;
  assign b_jlast = (b_jc == wch - WC_W'(1));
  assign b_mc = m_valid ? m_out : b_m;
  assign b_finc = m_valid ? m_fin : b_fin;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      b_active <= 1'b0;
    end else if (b_issue) begin
      b_active <= !b_jlast;
    end
  end
  always_ff @(posedge clk) begin
    if (b_issue) begin
      b_j <= b_jc + WC_W'(1);
    end
    if (m_valid) begin
      b_m <= m_out;
      b_fin <= m_fin;
    end
  end

  // side values along pass B, fb_*[s] in cycle issue + s
  localparam int LB1 = LB - 1;
  logic fb_v[1:LB1];
  logic fb_first[1:LB1];
  logic fb_last[1:LB1];
  logic fb_fin[1:LB1];
  logic [SM-1:0] fb_mask[1:5];
  logic signed [8:0] fb_m1;
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      for (int s = 1; s <= LB1; s++) fb_v[s] <= 1'b0;
    end else begin
      fb_v[1] <= b_issue;
      for (int s = 2; s <= LB1; s++) fb_v[s] <= fb_v[s-1];
    end
    fb_first[1] <= (b_jc == '0);
    fb_last[1] <= b_jlast;
    fb_fin[1] <= b_jlast && b_finc;
    fb_mask[1] <= b_jlast ? last_mask : '1;
    fb_m1 <= b_mc;
    for (int s = 2; s <= LB1; s++) begin
      fb_first[s] <= fb_first[s-1];
      fb_last[s] <= fb_last[s-1];
      fb_fin[s] <= fb_fin[s-1];
    end
    for (int s = 2; s <= 5; s++) fb_mask[s] <= fb_mask[s-1];
  end

  // stage 1 -> 2: d = m - x (0 .. 255);  stage 2 -> 3: k = min(d, entries - 1)
  logic [SM*8-1:0] d2;
  logic [SM*K_W-1:0] k3;
  always_ff @(posedge clk) begin
    for (int l = 0; l < SM; l++) begin
      logic signed [8:0] xv;
      xv = {in_signed & xb_q[l*8+7], xb_q[l*8+:8]};
      d2[l*8+:8] <= 8'(fb_m1 - xv);                        // m >= x: the difference is 0 .. 255
      k3[l*K_W+:K_W] <= (32'(d2[l*8+:8]) > 32'(kmax)) ? kmax : K_W'(d2[l*8+:8]);
    end
  end

  // stage 3 -> 5: the table lookups (copy c serves lanes 2c and 2c + 1)
  logic [SM*16-1:0] e5;
  for (genvar c = 0; c < NCOPY; c++) begin : g_copy
    logic [15:0] mem[EXP_DEPTH];
    logic [K_W-1:0] addr_a;
    logic [15:0] qa, qb;
    assign addr_a = tw_en ? tw_addr : k3[(2*c)*K_W+:K_W];
    always_ff @(posedge clk) begin
      if (tw_en) begin
        mem[addr_a] <= tw_data;
      end
      qa <= mem[addr_a];
      qb <= mem[k3[(2*c+1)*K_W+:K_W]];
      e5[(2*c)*16+:16] <= qa;                               // output registers
      e5[(2*c+1)*16+:16] <= qb;
    end
  end

  // stage 5 -> 6: masked lanes contribute 0;  row buffer B -> C written in stage 6
  logic [SM*16-1:0] e6;
  always_ff @(posedge clk) begin
    for (int l = 0; l < SM; l++) begin
      e6[l*16+:16] <= fb_mask[5][l] ? e5[l*16+:16] : 16'd0;
    end
  end
  logic [SM*16-1:0] ebuf[BD];
  logic [BD_W-1:0] eb_wp, eb_rp;
  logic c_issue;
  logic [SM*16-1:0] eb_q;
  always_ff @(posedge clk) begin
    if (fb_v[6]) begin
      ebuf[eb_wp] <= e6;
    end
    eb_q <= ebuf[eb_rp];
  end
  always_ff @(posedge clk) begin
    if (run_go) begin
      eb_wp <= '0;
      eb_rp <= '0;
    end else begin
      if (fb_v[6]) eb_wp <= eb_wp + BD_W'(1);
      if (c_issue) eb_rp <= eb_rp + BD_W'(1);
    end
  end

  // stages 6 .. 6 + LGS: adder tree;  6 + LGS -> 7 + LGS: running sum (known in stage LB)
  logic [SM*S_W-1:0] sx[1:LGS];
  always_ff @(posedge clk) begin
    for (int v = 1; v <= LGS; v++) begin
      sx[v] <= '0;
      for (int i = 0; i < (SM >> v); i++) begin
        if (v == 1) sx[v][i*S_W+:S_W] <= S_W'(e6[2*i*16+:16]) + S_W'(e6[(2*i+1)*16+:16]);
        else sx[v][i*S_W+:S_W] <= sx[v-1][2*i*S_W+:S_W] + sx[v-1][(2*i+1)*S_W+:S_W];
      end
    end
  end
  logic [S_W-1:0] srun, s_out, csum;
  logic s_valid, s_fin;
  assign csum = sx[LGS][S_W-1:0];
  always_ff @(posedge clk) begin
    if (fb_v[LB1]) begin
      srun <= (fb_first[LB1] ? '0 : srun) + csum;
    end
    s_out <= (fb_first[LB1] ? '0 : srun) + csum;
  end
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      s_valid <= 1'b0;
      s_fin <= 1'b0;
    end else begin
      s_valid <= fb_v[LB1] && fb_last[LB1];
      s_fin <= fb_v[LB1] && fb_fin[LB1];
    end
  end

  logic unused_fb;
  assign unused_fb = &{1'b0, sx[LGS][SM*S_W-1:S_W]};

  // ---- pass C: divide, saturate, write ------------------------------------------------------------
  logic c_active;
  logic [WC_W-1:0] c_j, c_jc;
  logic c_jlast;
  logic [S_W-1:0] c_s, c_sc;
  logic c_fin, c_finc;
  logic [AM_AW-1:0] c_row, c_cur, c_rowc;                   // next row's base, this row's

  assign c_issue = s_valid || c_active;
  assign c_jc = s_valid ? '0 : c_j;
  assign c_jlast = (c_jc == wch - WC_W'(1));
  assign c_sc = s_valid ? s_out : c_s;
  assign c_finc = s_valid ? s_fin : c_fin;
  assign c_rowc = s_valid ? c_row : c_cur;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      c_active <= 1'b0;
    end else if (c_issue) begin
      c_active <= !c_jlast;
    end
  end
  always_ff @(posedge clk) begin
    if (run_go) begin
      c_row <= dst_base;
    end else if (s_valid) begin
      c_row <= c_row + dst_stride;
    end
    if (c_issue) begin
      c_j <= c_jc + WC_W'(1);
    end
    if (s_valid) begin
      c_s <= s_out;
      c_fin <= s_fin;
      c_cur <= c_row;
    end
  end

  // stage 0 -> 1: side values (buffer data in 1);  1 -> 2: numerators E << f
  localparam int USER_W = AM_AW + SM + G_W + 1;             // write address, lane enables, group, last
  logic [S_W-1:0] cs1, cs2;
  logic [USER_W-1:0] cu1, cu2;
  logic cv1, cv2;
  logic [SM*NUM_W-1:0] num2;
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      cv1 <= 1'b0;
      cv2 <= 1'b0;
    end else begin
      cv1 <= c_issue;
      cv2 <= cv1;
    end
    cs1 <= c_sc;
    cu1 <= {c_rowc + AM_AW'(c_jc >> (WPC > 1 ? G_W : 0)), c_jlast ? last_mask : {SM{1'b1}}, G_W'(c_jc),
            c_jlast && c_finc};
    cs2 <= cs1;
    cu2 <= cu1;
    for (int l = 0; l < SM; l++) begin
      num2[l*NUM_W+:NUM_W] <= NUM_W'(eb_q[l*16+:16]) << pfrac;
    end
  end

  // stages 2 .. 2 + NS + 2: the dividers
  logic dv;
  logic [SM*(Q_W+1)-1:0] dq;
  logic [USER_W-1:0] du;
  spvit_ov_softmax_div #(
      .LANES(SM),
      .NUM_W(NUM_W),
      .DEN_W(S_W),
      .Q_W(Q_W),
      .STEPS(2),
      .USER_W(USER_W)
  ) u_div (
      .clk(clk),
      .rst_n(rst_n),
      .in_valid(cv2),
      .in_num(num2),
      .in_den(cs2),
      .in_user(cu2),
      .out_valid(dv),
      .out_q(dq),
      .out_user(du)
  );

  // stage 4 + NS -> 5 + NS: saturate; the AM write (registered)
  logic [SM*8-1:0] p_chunk;
  logic [AM_AW-1:0] w_addr;
  logic [SM-1:0] w_mask;
  logic [G_W-1:0] w_g;
  logic w_fin, w_v;
  always_ff @(posedge clk) begin
    for (int l = 0; l < SM; l++) begin
      p_chunk[l*8+:8] <= 8'((dq[l*(Q_W+1)+:Q_W+1] > pmax) ? pmax : dq[l*(Q_W+1)+:Q_W+1]);
    end
    {w_addr, w_mask, w_g, w_fin} <= du;
  end
  always_ff @(posedge clk) begin
    if (!rst_n) w_v <= 1'b0;
    else w_v <= dv;
  end

  assign am_wr_en = w_v;
  assign am_wr_addr = w_addr;
  assign am_wr_data = {WPC{p_chunk}};
  if (WPC > 1) begin : g_be_groups
    assign am_wr_be = L'(w_mask) << (32'(w_g) * SM);
  end else begin : g_be_one
    assign am_wr_be = w_mask;
    logic unused_g;
    assign unused_g = &{1'b0, w_g};
  end
  assign fin_write = w_v && w_fin;
endmodule
