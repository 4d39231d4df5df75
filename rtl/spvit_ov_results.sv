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
// Read side: words 0 .. ceil(NC/L)-1 are read in order through the RAM read port
// (res_rd_data valid exactly 2 cycles after res_rd_en) into a two-word queue (the word being sent,
// shifted by one lane per logit, and the next word); a read is issued while the queue and the reads
// in flight hold fewer than 2 words, or 2 with the word being sent used up in this cycle.  Output side: a register stage (m_axis_results_tdata, tvalid,
// tlast are registers) loaded whenever it is empty or handing its word over.
//
// Control: start (one-cycle pulse, ignored while busy), busy from the cycle after start until
// done, done a one-cycle pulse in the cycle after the last word's handshake.
//
// Cycles: start at edge s, no back-pressure: the first word's handshake is at edge s+5, then one
// word a cycle (the next RAM word is in the queue before the current one is used up, for any
// L >= 2), and done is high after edge
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
  localparam int NWR = (NC + L - 1) / L;               // RAM words to read
  localparam int I_W = $clog2(NW + 1);
  localparam int LN_W = (L > 1) ? $clog2(L) : 1;
  localparam int RD_W = $clog2(NWR + 1);

  logic [I_W-1:0] widx;                                // next word to load into the output register
  logic [LN_W-1:0] lane;                               // lane of the current RAM word for widx
  logic [RD_W-1:0] rd_next;                            // next RAM word to read
  logic [SK*CNT_W-1:0] kreg;                           // kept counts, the next one in lane 0
  logic [L*LOGIT_W-1:0] sh, nx;                        // word being sent (next logit in lane 0), next word
  logic sh_v, nx_v;
  logic v1, v2;                                        // reads 1 and 2 cycles old (v2: data valid now)
  logic load, use_logit, sh_pop, issue, fire, fire_last, sh_v_mid;
  logic [1:0] occ;

  assign fire = m_axis_results_tvalid && m_axis_results_tready;
  assign fire_last = fire && m_axis_results_tlast;
  assign use_logit = (widx < I_W'(NC));
  assign load = busy && (widx != I_W'(NW)) && (!m_axis_results_tvalid || m_axis_results_tready) &&
                (!use_logit || sh_v);
  assign sh_pop = load && use_logit && ((lane == LN_W'(L - 1)) || (widx == I_W'(NC - 1)));
  assign occ = 2'(v1) + 2'(v2) + 2'(sh_v) + 2'(nx_v);
  assign issue = busy && (rd_next != RD_W'(NWR)) && ((occ < 2'd2) || (occ == 2'd2 && sh_pop));
  assign sh_v_mid = sh_v && !sh_pop;                   // sh still holds lanes after this cycle

  assign res_rd_en = issue;
  assign res_rd_addr = RA_W'(rd_next);

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      busy <= 1'b0;
      done <= 1'b0;
      sh_v <= 1'b0;
      nx_v <= 1'b0;
      v1 <= 1'b0;
      v2 <= 1'b0;
      m_axis_results_tvalid <= 1'b0;
    end else begin
      done <= fire_last;
      v1 <= issue;
      v2 <= v1;
      if (!busy) begin
        if (start) begin
          busy <= 1'b1;
          widx <= '0;
          lane <= '0;
          rd_next <= '0;
          kreg <= kept;
        end
      end else begin
        if (fire_last) begin
          busy <= 1'b0;
        end
        if (issue) begin
          rd_next <= rd_next + 1'b1;
        end
        // the two-word queue
        if (sh_pop) begin
          sh <= nx;
          sh_v <= nx_v;
          nx_v <= 1'b0;
          if (v2) begin
            if (nx_v) begin
              nx <= res_rd_data;
              nx_v <= 1'b1;
            end else begin
              sh <= res_rd_data;
              sh_v <= 1'b1;
            end
          end
        end else begin
          if (load && use_logit) begin
            sh <= sh >> LOGIT_W;
          end
          if (v2) begin
            if (sh_v_mid) begin
              nx <= res_rd_data;
              nx_v <= 1'b1;
            end else begin
              sh <= res_rd_data;
              sh_v <= 1'b1;
            end
          end
        end
        // the output register
        if (load) begin
          m_axis_results_tvalid <= 1'b1;
          m_axis_results_tdata <= use_logit ? 32'($signed(sh[LOGIT_W-1:0])) : 32'(kreg[CNT_W-1:0]);
          m_axis_results_tlast <= (widx == I_W'(NW - 1));
          widx <= widx + 1'b1;
          lane <= sh_pop ? '0 : lane + 1'b1;
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
