// spvit_ov_results: the overlay engine's RESULT instruction -- the logits (from the result RAM)
// and the kept-token count of every selector stage as 32-bit AXI-Stream words.
//
// Words, in the order of the dataflow design's rtl/spvit_result_out.sv (and the HLS
// write_output):
//     word m < NC:      logit m, sign-extended from LOGIT_W to 32 bits
//     word NC + s:      kept count of stage s (lane s of `kept`), zero-extended to 32 bits
// tlast on word NC + S - 1.  The logits are read from the result RAM: NC raw accumulators, L lanes
// of LOGIT_W bits a word, logit m = lane m%L of word m/L (lanes beyond NC in the last word are
// not sent).  `kept` is sampled with start.
//
// Read side: one RAM read per logit, in order: word m/L is read (res_rd_data valid exactly 2
// cycles after res_rd_en) and its lane m%L (a registered-select multiplexer after the RAM's
// output register) is pushed into a 4-word FIFO; a read is issued while the FIFO and the reads
// in flight hold fewer than 4 words.  (Reading a word once per lane keeps the unit small: no
// L*LOGIT_W-bit word buffers; the RAM's read port is idle during RESULT anyway.)  Output side: a
// register stage (m_axis_results_tdata, tvalid, tlast are registers) loaded whenever it is empty
// or handing its word over: logits from the FIFO, then the kept counts.
//
// Control: start (one-cycle pulse, ignored while busy), busy from the cycle after start until
// done, done a one-cycle pulse in the cycle after the last word's handshake.
//
// Cycles: start at edge s, no back-pressure: the first word's handshake is at edge s+5, then one
// word a cycle, and done is high after edge
//     d = s + NC + S + 4;
// back-pressure adds its stalled cycles.
//
// Preconditions: NC >= 1; LOGIT_W <= 32; CNT_W <= 32; ceil(NC/L) <= 2^RA_W.
module spvit_ov_results #(
    parameter int L       = 8,         // lanes per result-RAM word
    parameter int NC      = 10,        // classes (logits)
    parameter int LOGIT_W = 32,        // result-RAM lane width (signed raw accumulator)
    parameter int S       = 3,         // selector stages (kept counts); 0: none
    parameter int CNT_W   = 16,        // kept-count width (unsigned)
    parameter int RA_W    = 4          // result-RAM word-address width
) (
    input  logic                               clk,
    input  logic                               rst_n,
    // control
    input  logic                               start,       // pulse: send one image's results
    input  logic [((S > 0) ? S : 1)*CNT_W-1:0] kept,        // lane s = kept count of stage s
    output logic                               busy,
    output logic                               done,        // pulse: the last word was taken
    // result RAM read port (data 2 cycles after the enable)
    output logic                               res_rd_en,
    output logic [RA_W-1:0]                    res_rd_addr,
    input  logic [L*LOGIT_W-1:0]               res_rd_data,
    // result stream (master)
    output logic [31:0]                        m_axis_results_tdata,
    output logic                               m_axis_results_tvalid,
    input  logic                               m_axis_results_tready,
    output logic                               m_axis_results_tlast
);
  localparam int SK = (S > 0) ? S : 1;
  localparam int NW = NC + S;                          // words per image
  localparam int I_W = $clog2(NW + 1);
  localparam int M_W = $clog2(NC + 1);
  localparam int LN_W = (L > 1) ? $clog2(L) : 1;
  localparam int DEPTH = 4;                            // FIFO words

  logic [I_W-1:0] widx;                                // next word to load into the output register
  logic [M_W-1:0] mrd;                                 // next logit to read
  logic [SK*CNT_W-1:0] kreg;                           // kept counts, the next one in lane 0
  logic v1, v2;                                        // reads 1 and 2 cycles old (v2: data valid now)
  logic [LN_W-1:0] lane1, lane2;                       // their lanes
  logic [LOGIT_W-1:0] lane_val;
  logic [31:0] fifo[DEPTH];
  logic [1:0] f_rd, f_wr;
  logic [2:0] f_cnt;
  logic load, use_logit, pop, issue, fire, fire_last;

  assign fire = m_axis_results_tvalid && m_axis_results_tready;
  assign fire_last = fire && m_axis_results_tlast;
  assign use_logit = (widx < I_W'(NC));
  assign load = busy && (widx != I_W'(NW)) && (!m_axis_results_tvalid || m_axis_results_tready) &&
                (!use_logit || f_cnt != '0);
  assign pop = load && use_logit;
  assign issue = busy && (mrd != M_W'(NC)) && (f_cnt + 3'(v1) + 3'(v2) < 3'(DEPTH));
  assign lane_val = res_rd_data[lane2*LOGIT_W+:LOGIT_W];

  assign res_rd_en = issue;
  assign res_rd_addr = RA_W'(mrd >> LN_W);

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      busy <= 1'b0;
      done <= 1'b0;
      v1 <= 1'b0;
      v2 <= 1'b0;
      f_cnt <= '0;
      m_axis_results_tvalid <= 1'b0;
    end else begin
      done <= fire_last;
      v1 <= issue;
      v2 <= v1;
      lane1 <= LN_W'(mrd);
      lane2 <= lane1;
      if (!busy) begin
        if (start) begin
          busy <= 1'b1;
          widx <= '0;
          mrd <= '0;
          f_rd <= '0;
          f_wr <= '0;
          f_cnt <= '0;
          kreg <= kept;
        end
      end else begin
        if (fire_last) begin
          busy <= 1'b0;
        end
        if (issue) begin
          mrd <= mrd + 1'b1;
        end
        // the FIFO of selected logits
        if (v2) begin
          fifo[f_wr] <= 32'($signed(lane_val));
          f_wr <= f_wr + 1'b1;
        end
        if (pop) begin
          f_rd <= f_rd + 1'b1;
        end
        f_cnt <= f_cnt + 3'(v2) - 3'(pop);
        // the output register
        if (load) begin
          m_axis_results_tvalid <= 1'b1;
          m_axis_results_tdata <= use_logit ? fifo[f_rd] : 32'(kreg[CNT_W-1:0]);
          m_axis_results_tlast <= (widx == I_W'(NW - 1));
          widx <= widx + 1'b1;
          if (!use_logit) begin
            kreg <= kreg >> CNT_W;
          end
        end else if (m_axis_results_tready) begin
          m_axis_results_tvalid <= 1'b0;
        end
      end
    end
  end
endmodule
