// spvit_softmax: integer softmax of one row at a time (intops.int_softmax).
//
//   m   = max_j x_j                                       (pass 1, while the row arrives)
//   k_j = min(m - x_j, EXP_DEPTH - 1);  E_j = T_exp[k_j]  (spvit_rom, $readmemh of intops.exp_table)
//   S   = sum_j E_j                                       (pass 2)
//   p_j = sat_P( RNE(E_j * 2^P_W / S) )                   (pass 3, spvit_divider, unsigned P_W bits)
//
// Input: one score a beat (IN_W bits, signed), tlast on the last score of a row; a row holds
// 1..N_MAX scores (the length is a run-time quantity).  Output: one probability a beat
// (P_W bits unsigned, frac P_W), tlast on the last of the row.  The row waits in a buffer
// (N_MAX x IN_W, synchronous read); E_j is looked up again in pass 3 rather than stored.
// E_j <= S, so the quotient is at most 2^P_W (P_W + 1 quotient bits); 2^P_W saturates to
// 2^P_W - 1 (a one-element row gives 255/256 for 8 bits, as intops).
// Cycles per row of n, without stalls (checked by rtl_sim/tb_softmax.py):
//   n * (2 + ceil((P_W+1)/DIV_STEPS) + 1) + 5     (receive, sum, one division per element)
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

  typedef enum logic [1:0] {
    RECV,
    SUM,
    DIV
  } state_t;
  state_t state;

  // ---- row buffer -------------------------------------------------------------------------------
  logic [IN_W-1:0] row[N_MAX];
  logic [A_W-1:0] wr_addr;
  logic [N_W-1:0] n;                                  // length of the buffered row
  logic signed [IN_W-1:0] row_max;

  logic recv_fire;
  assign s_axis_tready = (state == RECV);
  assign recv_fire = s_axis_tvalid && s_axis_tready;

  always_ff @(posedge clk) begin
    if (recv_fire) begin
      row[wr_addr] <= s_axis_tdata;
    end
  end

  // ---- read pipeline: buffer read -> table read -> consumer (sum, or divider) -----------------
  logic [N_W-1:0] issued;                             // elements sent into the pipeline
  logic [N_W-1:0] done;                               // elements the consumer took
  logic rd_valid, e_valid;
  logic [IN_W-1:0] x_rd;
  logic [EXP_W-1:0] e;
  logic consume;                                      // the consumer takes e this cycle
  logic adv_e, adv_rd, issue;
  logic [K_W-1:0] k;

  assign adv_e = !e_valid || consume;
  assign adv_rd = !rd_valid || adv_e;
  assign issue = (state != RECV) && adv_rd && (issued != n);

  always_ff @(posedge clk) begin
    if (adv_rd) begin
      x_rd <= row[A_W'(issued)];
    end
  end

  // k = min(max - x, EXP_DEPTH - 1); max >= x, so the difference is an unsigned IN_W-bit value
  logic [IN_W-1:0] diff;
  assign diff = row_max - x_rd;
  if ((1 << IN_W) > EXP_DEPTH) begin : g_clamp
    assign k = (diff > IN_W'(EXP_DEPTH - 1)) ? K_W'(EXP_DEPTH - 1) : K_W'(diff);
  end else begin : g_no_clamp
    assign k = K_W'(diff);
  end

  spvit_rom #(
      .DEPTH(EXP_DEPTH),
      .DATA_W(EXP_W),
      .ADDR_W(K_W),
      .INIT_FILE(EXP_FILE)
  ) u_exp (
      .clk(clk),
      .en(adv_e && rd_valid),
      .addr(k),
      .data(e)
  );

  // ---- divider ----------------------------------------------------------------------------------
  logic [S_W-1:0] sum;
  logic div_in_ready;
  logic div_in_valid;
  logic [DIV_OUT_W-1:0] q;

  logic div_in_last;
  logic div_user_unused;
  assign div_in_valid = (state == DIV) && e_valid;
  assign div_in_last = (done == n - 1'b1);
  assign consume = e_valid && ((state == SUM) || div_in_ready);

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
      .s_axis_tdata({sum, e, {P_W{1'b0}}}),
      .s_axis_tvalid(div_in_valid),
      .s_axis_tready(div_in_ready),
      .s_axis_tlast(div_in_last),
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
  logic [N_W-1:0] sent;                               // probabilities handed downstream
  logic out_fire;
  assign out_fire = m_axis_tvalid && m_axis_tready;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      state <= RECV;
      wr_addr <= '0;
      rd_valid <= 1'b0;
      e_valid <= 1'b0;
    end else begin
      if (adv_rd) begin
        rd_valid <= issue;
      end
      if (adv_e) begin
        e_valid <= rd_valid;
      end
      unique case (state)
        RECV: begin
          if (recv_fire) begin
            wr_addr <= s_axis_tlast ? '0 : wr_addr + 1'b1;
            if (s_axis_tlast) begin
              state <= SUM;
            end
          end
        end
        SUM: begin
          if (consume && done == n - 1'b1) begin
            state <= DIV;
          end
        end
        DIV: begin
          if (out_fire && sent == n - 1'b1) begin
            state <= RECV;
          end
        end
        default: state <= RECV;
      endcase
    end
  end

  always_ff @(posedge clk) begin
    if (recv_fire) begin
      row_max <= (wr_addr == '0 || $signed(s_axis_tdata) > row_max) ? s_axis_tdata : row_max;
      n <= N_W'(wr_addr) + 1'b1;
    end
    if (state == RECV) begin
      issued <= '0;
      done <= '0;
      sum <= '0;
      sent <= '0;
    end else begin
      if (issue) begin
        issued <= issued + 1'b1;
      end
      if (consume) begin
        done <= (state == SUM && done == n - 1'b1) ? '0 : done + 1'b1;
        if (state == SUM) begin
          sum <= sum + S_W'(e);
        end
      end
      if (state == SUM && consume && done == n - 1'b1) begin
        issued <= '0;                                 // pass 3 reads the row again
      end
      if (out_fire) begin
        sent <= sent + 1'b1;
      end
    end
  end
endmodule
