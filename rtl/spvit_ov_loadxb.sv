// spvit_ov_loadxb: the LOAD_XB instruction of the overlay engine.  Pops a constants blob from the
// param stream (class token, position embedding: residual values in 2-byte little-endian lanes,
// spvit_fpga/hw/overlay/layout.py) and writes it to consecutive words of the residual buffer XB,
// starting at word `cfg_base`, `cfg_words` words (rows x D/L).
//
// An XB word is L lanes of X_W bits, i.e. WB = 2L bytes of the blob (lane i = bytes 2i, 2i+1; the
// low X_W bits are kept).  A param-stream beat is SB bytes.  SB >= WB: each beat gives PER = SB/WB
// words, written one a cycle; the next beat is taken in the cycle the beat's last word is written.
// SB < WB: NEED = WB/SB beats make a word, written in the cycle after its last beat.  The blob holds
// whole beats, B = ceil(cfg_words * WB / SB); the words after the last one are padding and are
// popped with it.
//
// Cycles (start in cycle 0, done in cycle N, the stream never empty; cfg_words = 0: N = 1):
//   SB >= WB:  N = cfg_words + 3   (one cycle to take the first beat, a word a cycle, done)
//   SB <  WB:  N = B + 2           (a beat a cycle, the word written with its last beat, done)
// every cycle the stream has no beat when one is wanted adds one.
module spvit_ov_loadxb #(
    parameter int L     = 8,     // lanes a word
    parameter int X_W   = 16,    // residual lane width (<= 16)
    parameter int SB    = 32,    // param-stream bytes a beat (a power of two)
    parameter int XAW   = 12,    // XB address width
    parameter int CNT_W = 16     // word-count width
) (
    input  logic               clk,
    input  logic               rst_n,
    input  logic               start,       // one-cycle pulse (ignored while busy)
    input  logic [XAW-1:0]     cfg_base,    // first XB word
    input  logic [CNT_W-1:0]   cfg_words,   // words to write
    output logic               busy,
    output logic               done,        // one-cycle pulse: the last word is written
    input  logic [SB*8-1:0]    ps_tdata,
    input  logic               ps_tvalid,
    output logic               ps_tready,
    output logic               xb_wr_en,
    output logic [XAW-1:0]     xb_wr_addr,
    output logic [L-1:0]       xb_wr_be,
    output logic [L*X_W-1:0]   xb_wr_data
);
  localparam int WB = 2 * L;                          // blob bytes a word
  localparam int PER = (SB >= WB) ? SB / WB : 1;      // words a beat
  localparam int NEED = (SB >= WB) ? 1 : WB / SB;     // beats a word
  localparam int PI_W = (PER > 1) ? $clog2(PER) : 1;
  localparam int NI_W = (NEED > 1) ? $clog2(NEED) : 1;
  localparam int HOLD = (SB >= WB) ? SB : WB - SB;    // bytes held: a beat, or the first NEED-1 beats of a word

  logic [HOLD*8-1:0] hold_q;     // the beat being split (SB >= WB) or the word being gathered
  logic [CNT_W-1:0] left;        // words still to write
  logic [XAW-1:0] addr;
  logic [PI_W-1:0] part;         // next word of the held beat
  logic [NI_W-1:0] got;          // beats of the word gathered so far
  logic have;                    // a beat is held (SB >= WB)
  logic take, emit, last_part;
  logic [WB*8-1:0] word;         // the word written this cycle (SB >= WB) or assembled (SB < WB)

  assign last_part = (PER == 1) || (part == PI_W'(PER - 1)) || (left == CNT_W'(1));
  if (SB >= WB) begin : g_split
    assign emit = busy && have && left != '0;
    assign ps_tready = busy && left != '0 && (!have || (emit && last_part && left != CNT_W'(1)));
    assign word = hold_q[part*WB*8 +: WB*8];
  end else begin : g_gather
    assign emit = 1'b0;  // the gathered word is written from the take path below
    assign ps_tready = busy && left != '0;
    assign word = {ps_tdata, hold_q};
  end
  assign take = ps_tvalid && ps_tready;

  always_ff @(posedge clk) begin
    xb_wr_en <= 1'b0;
    done <= 1'b0;
    if (start && !busy) begin
      busy <= 1'b1;
      left <= cfg_words;
      addr <= cfg_base;
      part <= '0;
      got <= '0;
      have <= 1'b0;
    end else if (busy) begin
      if (SB >= WB) begin
        if (emit) begin
          xb_wr_en <= 1'b1;
          xb_wr_addr <= addr;
          for (int i = 0; i < L; i++) xb_wr_data[i*X_W +: X_W] <= word[i*16 +: X_W];
          addr <= addr + 1'b1;
          left <= left - 1'b1;
          part <= last_part ? '0 : part + 1'b1;
          if (last_part) have <= 1'b0;
        end
        if (take) begin
          hold_q[SB*8-1:0] <= ps_tdata;
          have <= 1'b1;
        end
      end else if (take) begin
        if (got == NI_W'(NEED - 1)) begin
          got <= '0;
          xb_wr_en <= 1'b1;
          xb_wr_addr <= addr;
          for (int i = 0; i < L; i++) xb_wr_data[i*X_W +: X_W] <= word[i*16 +: X_W];
          addr <= addr + 1'b1;
          left <= left - 1'b1;
        end else begin
          hold_q[got*SB*8 +: SB*8] <= ps_tdata;
          got <= got + 1'b1;
        end
      end
      if (left == '0) begin
        busy <= 1'b0;
        done <= 1'b1;
      end
    end
    if (!rst_n) begin
      busy <= 1'b0;
      done <= 1'b0;
      xb_wr_en <= 1'b0;
    end
  end
  assign xb_wr_be = '1;

  /* verilator lint_off UNUSEDSIGNAL */
  wire unused_ok = &{1'b0, have, part, last_part, emit, word};  // split-mode state (gather mode), lane tops (X_W < 16)
  /* verilator lint_on UNUSEDSIGNAL */
endmodule
