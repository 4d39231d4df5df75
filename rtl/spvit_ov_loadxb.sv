// spvit_ov_loadxb: the LOAD_XB instruction of the overlay engine.  Pops a constants blob from the
// param stream (class token, position embedding: residual values in 2-byte little-endian lanes,
// spvit_fpga/hw/overlay/layout.py) and writes it to consecutive words of the residual buffer XB,
// starting at word `cfg_base`, `cfg_words` words (rows x D/L).
//
// An XB word is L lanes of X_W bits, i.e. WB = 2L bytes of the blob (lane i = bytes 2i, 2i+1; the
// low X_W bits are kept).  A param-stream beat is SB bytes.  SB >= WB: each beat gives SB/WB words,
// written one a cycle; SB < WB: WB/SB beats make a word.  The blob holds whole beats; bytes after the
// last word are padding and are popped with it.
//
// Cycles (no stalls): start -> done = max(words, beats) + 2, with beats = ceil(words*WB / SB).
module spvit_ov_loadxb #(
    parameter int L     = 8,     // lanes a word
    parameter int X_W   = 16,    // residual lane width (<= 16)
    parameter int SB    = 32,    // param-stream bytes a beat (a power of two)
    parameter int XAW   = 12,    // XB address width
    parameter int CNT_W = 16
) (
    input  logic               clk,
    input  logic               rst_n,
    input  logic               start,
    input  logic [XAW-1:0]     cfg_base,
    input  logic [CNT_W-1:0]   cfg_words,
    output logic               busy,
    output logic               done,
    input  logic [SB*8-1:0]    ps_tdata,
    input  logic               ps_tvalid,
    output logic               ps_tready,
    output logic               xb_wr_en,
    output logic [XAW-1:0]     xb_wr_addr,
    output logic [L-1:0]       xb_wr_be,
    output logic [L*X_W-1:0]   xb_wr_data
);
  localparam int WB = 2 * L;
  localparam int BIG = (SB > WB) ? SB : WB;
  localparam int PER = (SB >= WB) ? SB / WB : 1;      // words a beat
  localparam int NEED = (SB >= WB) ? 1 : WB / SB;     // beats a word
  localparam int PI_W = (PER > 1) ? $clog2(PER) : 1;
  localparam int NI_W = (NEED > 1) ? $clog2(NEED) : 1;

  logic [BIG*8-1:0] buf_q;
  logic [CNT_W-1:0] left;
  logic [XAW-1:0] addr;
  logic [PI_W-1:0] part;      // next word within a beat (SB >= WB)
  logic [NI_W-1:0] got;       // beats gathered (SB < WB)
  logic have;                 // buf_q holds a beat (SB >= WB) / a full word (SB < WB)
  logic [WB*8-1:0] word;

  always_comb begin
    if (SB >= WB) word = buf_q[part*WB*8 +: WB*8];
    else word = buf_q[WB*8-1:0];
  end

  assign ps_tready = busy && !have && left != '0;

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
      if (ps_tvalid && ps_tready) begin
        if (SB >= WB) begin
          buf_q[SB*8-1:0] <= ps_tdata;
          have <= 1'b1;
          part <= '0;
        end else begin
          buf_q[got*SB*8 +: SB*8] <= ps_tdata;
          if (got == NI_W'(NEED - 1)) begin
            got <= '0;
            have <= 1'b1;
          end else got <= got + 1'b1;
        end
      end
      if (have && left != '0) begin
        xb_wr_en <= 1'b1;
        xb_wr_addr <= addr;
        for (int i = 0; i < L; i++) xb_wr_data[i*X_W +: X_W] <= word[i*16 +: X_W];
        addr <= addr + 1'b1;
        left <= left - 1'b1;
        if (SB >= WB && part != PI_W'(PER - 1) && left != CNT_W'(1)) part <= part + 1'b1;
        else have <= 1'b0;
      end
      if (left == '0 && !have) begin
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
  logic [WB*8-1:0] unused_hi;
  assign unused_hi = word;
  /* verilator lint_on UNUSEDSIGNAL */
endmodule
