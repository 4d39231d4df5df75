// spvit_softmax: integer softmax of rows (intops.int_softmax), three rows in flight (pipelined).
//
//   m   = max_j x_j                                       (pass 1, while the row arrives)
//   k_j = min(m - x_j, EXP_DEPTH - 1);  E_j = T_exp[k_j]  (spvit_rom, $readmemh of intops.exp_table)
//   S   = sum_j E_j                                       (pass 2)
//   p_j = sat_P( RNE(E_j * 2^P_W / S) )                   (pass 3, spvit_divider, unsigned P_W bits)
//
// Input: one score a beat (IN_W bits, signed), tlast on the last score of a row; a row holds
// 1..N_MAX scores (the length is a run-time quantity).  Output: one probability a beat
// (P_W bits unsigned, frac P_W), tlast on the last of the row.  E_j <= S, so the quotient is at
// most 2^P_W (P_W + 1 quotient bits); 2^P_W saturates to 2^P_W - 1 (a one-element row gives
// 255/256 for 8 bits, as intops).
//
// The three passes are a pipeline of three stages, each working on its own row: receive (row
// into a buffer, running max), sum (buffer read -> exp table -> add, one element a cycle) and
// divide (buffer read -> second copy of the exp table -> divider, one element per divider
// interval D = ceil((P_W+1)/DIV_STEPS) + 1).  Three row buffers (N_MAX x IN_W, synchronous
// read) rotate through the stages; a row moves on when the next stage is free, so row r + 1
// arrives and is summed while row r divides.  E_j is looked up again in pass 3 rather than
// stored.  Hardware: three row buffers, two exp-table ROMs (EXP_DEPTH x EXP_W), one divider.
// Cycles without stalls (checked exactly by rtl_sim/tb_softmax.py, which models the stage
// hand-overs below): a row of n alone takes (2 + D)*n + 7 cycles from its first beat offered to
// its last probability taken; rows of equal n back to back follow each other every
// max(D*n + max(0, 3 - D), n + 3) cycles (the divide pass paces them; the sum pass for very short
// rows when D <= 3), i.e. R rows of n take
//   (2 + D)*n + 7 + (R - 1)*max(D*n + max(0, 3 - D), n + 3).
// Hand-overs, for a row whose last beat is taken in cycle c: it enters the sum stage in cycle
// e_s = max(c + 1, the cycle the previous row leaves the sum stage) (the next row's first beat
// is taken from e_s + 1 on); it leaves the sum stage and enters the divide stage in cycle
// e_d = max(e_s + n + 3, the cycle the previous row's last element enters the divider); its
// element j enters the divider in cycle A_j = max(e_d + 3, A_(j-1) + D) (A_(-1): the previous
// row's last element) and is taken as a probability in cycle A_j + D.
module spvit_softmax #(
    parameter int IN_W      = 8,                              // score width (signed)
    parameter int N_MAX     = 256,                            // longest row
    parameter int P_W       = 8,                              // probability bits (= frac)
    parameter int EXP_W     = 16,                             // exp-table entry width
    parameter int EXP_DEPTH = (IN_W < 10) ? (1 << IN_W) : 1024,  // table entries (intops)
    parameter     EXP_FILE  = "exp.hex",                      // $readmemh of intops.exp_table
    parameter int DIV_STEPS = 3                               // divider quotient bits per cycle
) (
    input  logic              clk,
    input  logic              rst_n,
    input  logic [IN_W-1:0]   s_axis_tdata,
    input  logic              s_axis_tvalid,
    output logic              s_axis_tready,
    input  logic              s_axis_tlast,
    output logic [P_W-1:0]    m_axis_tdata,
    output logic              m_axis_tvalid,
    input  logic              m_axis_tready,
    output logic              m_axis_tlast
);
  localparam int A_W = (N_MAX > 1) ? $clog2(N_MAX) : 1;  // buffer address
  localparam int N_W = $clog2(N_MAX + 1);             // row length
  localparam int S_W = EXP_W + $clog2(N_MAX);         // sum of up to N_MAX entries (>= 1 bit)
  localparam int K_W = $clog2(EXP_DEPTH);             // table index
  localparam int NUM_W = EXP_W + P_W;                 // E * 2^P_W
  localparam int Q_W = P_W + 1;                       // quotient <= 2^P_W
  localparam int DIV_OUT_W = Q_W + 1;

  // ---- three row buffers, used in turn by the receive, sum and divide stages ------------------
  // Row r lives in bank r % 3; a bank is written again (row r + 3) only after the divide stage
  // has sent the last element of row r into the divider.
  logic [1:0] r_bank, s_bank, d_bank;                 // the bank each stage works on
  logic [N_W-1:0] s_issued, d_issued;                 // read addresses of the sum / divide stage
  logic s_rd_en, d_rd_en;
  logic [IN_W-1:0] bank_rd[3];
  logic [A_W-1:0] wr_addr;
  logic recv_fire;

  for (genvar b = 0; b < 3; b++) begin : g_bank
    logic [IN_W-1:0] mem[N_MAX];
    logic [IN_W-1:0] rd;
    always_ff @(posedge clk) begin
      if (recv_fire && r_bank == 2'(b)) begin
        mem[wr_addr] <= s_axis_tdata;
      end
      // one reader a bank (the sum and divide stages always hold different banks)
      if ((d_bank == 2'(b)) ? d_rd_en : (s_bank == 2'(b) && s_rd_en)) begin
        rd <= mem[(d_bank == 2'(b)) ? A_W'(d_issued) : A_W'(s_issued)];
      end
    end
    assign bank_rd[b] = rd;
  end

  // ---- receive stage: the row into bank r_bank, running max ----------------------------------
  logic r_full;                                       // a complete row waits for the sum stage
  logic signed [IN_W-1:0] r_max;
  logic [N_W-1:0] r_n;
  logic r_to_s, s_free;

  assign s_axis_tready = !r_full;
  assign recv_fire = s_axis_tvalid && s_axis_tready;
  assign r_to_s = r_full && s_free;

  // ---- sum stage: S = sum_j T_exp[k_j] (buffer read -> table read -> add, one a cycle) --------
  logic s_busy, s_full;                               // holds a row / its sum is complete
  logic signed [IN_W-1:0] s_max;
  logic [N_W-1:0] s_n, s_done;
  logic [S_W-1:0] s_sum;
  logic s_rd_valid, s_e_valid, s_to_d, d_free;
  logic [EXP_W-1:0] s_e;

  assign s_rd_en = s_busy && !s_full && (s_issued != s_n);
  assign s_to_d = s_full && d_free;
  assign s_free = !s_busy || s_to_d;

  // ---- divide stage: p_j = sat(RNE(T_exp[k_j] * 2^P_W / S)) (read -> table -> divider) -------
  logic d_busy;                                       // holds a row with elements to divide
  logic signed [IN_W-1:0] d_max;
  logic [N_W-1:0] d_n, d_done;
  logic [S_W-1:0] d_sum;
  logic d_rd_valid, d_e_valid, d_adv_e, d_last_in;
  logic [EXP_W-1:0] d_e;
  logic div_in_ready, div_fire;

  assign div_fire = d_e_valid && div_in_ready;
  assign d_last_in = div_fire && (d_done == d_n - 1'b1);
  assign d_free = !d_busy || d_last_in;
  assign d_adv_e = !d_e_valid || div_fire;
  assign d_rd_en = !d_rd_valid || d_adv_e;           // the read stage advances

  // k = min(max - x, EXP_DEPTH - 1); max >= x, so the difference is an unsigned IN_W-bit value
  logic [IN_W-1:0] s_diff, d_diff;
  logic [K_W-1:0] s_k, d_k;
  assign s_diff = s_max - bank_rd[s_bank];
  assign d_diff = d_max - bank_rd[d_bank];
  if ((1 << IN_W) > EXP_DEPTH) begin : g_clamp
    assign s_k = (s_diff > IN_W'(EXP_DEPTH - 1)) ? K_W'(EXP_DEPTH - 1) : K_W'(s_diff);
    assign d_k = (d_diff > IN_W'(EXP_DEPTH - 1)) ? K_W'(EXP_DEPTH - 1) : K_W'(d_diff);
  end else begin : g_no_clamp
    assign s_k = K_W'(s_diff);
    assign d_k = K_W'(d_diff);
  end

  // two copies of the exp table: the sum and divide stages look up in the same cycles
  spvit_rom #(
      .DEPTH(EXP_DEPTH),
      .DATA_W(EXP_W),
      .ADDR_W(K_W),
      .INIT_FILE(EXP_FILE)
  ) u_exp_sum (
      .clk(clk),
      .en(s_rd_valid),
      .addr(s_k),
      .data(s_e)
  );

  spvit_rom #(
      .DEPTH(EXP_DEPTH),
      .DATA_W(EXP_W),
      .ADDR_W(K_W),
      .INIT_FILE(EXP_FILE)
  ) u_exp_div (
      .clk(clk),
      .en(d_adv_e && d_rd_valid),
      .addr(d_k),
      .data(d_e)
  );

  logic [DIV_OUT_W-1:0] q;
  logic div_user_unused;

  spvit_divider #(
      .NUM_W(NUM_W),
      .SIGNED(1'b0),
      .DEN_W(S_W),
      .Q_W(Q_W),
      .STEPS(DIV_STEPS),
      .USER_W(1)
  ) u_div (
      .clk(clk),
      .rst_n(rst_n),
      .s_axis_tdata({d_sum, d_e, {P_W{1'b0}}}),
      .s_axis_tvalid(d_e_valid),
      .s_axis_tready(div_in_ready),
      .s_axis_tlast(d_done == d_n - 1'b1),
      .s_axis_tuser(1'b0),
      .m_axis_tdata(q),
      .m_axis_tvalid(m_axis_tvalid),
      .m_axis_tready(m_axis_tready),
      .m_axis_tlast(m_axis_tlast),
      .m_axis_tuser(div_user_unused)
  );

  // saturate the quotient (<= 2^P_W) to P_W bits
  assign m_axis_tdata = q[P_W] ? '1 : q[P_W-1:0];

  logic unused_ok;
  assign unused_ok = &{1'b0, q[DIV_OUT_W-1:P_W+1], div_user_unused};

  // ---- control ----------------------------------------------------------------------------------
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      r_full <= 1'b0;
      r_bank <= 2'd0;
      wr_addr <= '0;
      s_busy <= 1'b0;
      s_full <= 1'b0;
      s_bank <= 2'd1;                                 // idle stages hold banks no row uses
      s_rd_valid <= 1'b0;
      s_e_valid <= 1'b0;
      d_busy <= 1'b0;
      d_bank <= 2'd2;
      d_rd_valid <= 1'b0;
      d_e_valid <= 1'b0;
    end else begin
      // receive
      if (recv_fire) begin
        wr_addr <= s_axis_tlast ? '0 : wr_addr + 1'b1;
        if (s_axis_tlast) begin
          r_full <= 1'b1;
        end
      end
      if (r_to_s) begin
        r_full <= 1'b0;
        r_bank <= (r_bank == 2'd2) ? 2'd0 : r_bank + 2'd1;
      end
      // sum
      s_rd_valid <= s_rd_en;
      s_e_valid <= s_rd_valid;
      if (r_to_s) begin
        s_busy <= 1'b1;
        s_full <= 1'b0;
        s_bank <= r_bank;
      end else if (s_to_d) begin
        s_busy <= 1'b0;
        s_full <= 1'b0;
      end else if (s_e_valid && s_done == s_n - 1'b1) begin
        s_full <= 1'b1;
      end
      // divide
      if (d_rd_en) begin
        d_rd_valid <= d_busy && (d_issued != d_n);
      end
      if (d_adv_e) begin
        d_e_valid <= d_rd_valid;
      end
      if (s_to_d) begin
        d_busy <= 1'b1;
        d_bank <= s_bank;
      end else if (d_last_in) begin
        d_busy <= 1'b0;
      end
    end
  end

  always_ff @(posedge clk) begin
    if (recv_fire) begin
      r_max <= (wr_addr == '0 || $signed(s_axis_tdata) > r_max) ? s_axis_tdata : r_max;
      r_n <= N_W'(wr_addr) + 1'b1;
    end
    if (r_to_s) begin
      s_max <= r_max;
      s_n <= r_n;
      s_issued <= '0;
      s_done <= '0;
      s_sum <= '0;
    end else begin
      if (s_rd_en) begin
        s_issued <= s_issued + 1'b1;
      end
      if (s_e_valid) begin
        s_sum <= s_sum + S_W'(s_e);
        s_done <= s_done + 1'b1;
      end
    end
    if (s_to_d) begin
      d_max <= s_max;
      d_n <= s_n;
      d_sum <= s_sum;
      d_issued <= '0;
      d_done <= '0;
    end else begin
      if (d_rd_en && d_busy && (d_issued != d_n)) begin
        d_issued <= d_issued + 1'b1;
      end
      if (div_fire) begin
        d_done <= d_done + 1'b1;
      end
    end
  end
endmodule
