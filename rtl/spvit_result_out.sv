// spvit_result_out: the design's result words -- the logits token and the kept-token counts as
// OUT_W-bit AXI-Stream words, in the HLS design's output order (spvit_top.cpp.j2 write_output).
//
// Per image it takes one beat on s_axis_logits (the classifier's NC raw accumulators, signed
// LOGIT_W bits, lane i = class i) and, when S > 0, one beat on s_axis_kept (the kept patch-token
// count of each of the S selector stages, unsigned CNT_W bits, lane s = stage s), in either
// order, and then sends NC + S words on m_axis:
//     word m < NC:       logit m sign-extended to OUT_W bits    (ap_int<OUT_W>(logit))
//     word NC + s:       kept count s zero-extended to OUT_W bits
// tlast on word NC + S - 1.  (A width above OUT_W keeps the low OUT_W bits, as the HLS
// conversion does; the generator picks OUT_W >= LOGIT_W, CNT_W.)  With S = 0 s_axis_kept is not
// used: its tready stays low and its tdata (one CNT_W lane) is ignored.
//
// Each input is held in its own register (shifted by one lane per word sent, so the output
// needs no NC-way multiplexer); an input's tready is high while its register is empty, and both
// registers empty after the frame's last word.  Cycles: NC + S words at one a cycle (m_axis_tdata,
// tvalid and tlast come from registers); an input beat is taken in the cycle after the previous
// frame's last word, so frames back to back take NC + S + 1 cycles each.
//
// Preconditions: NC >= 1; each frame has exactly one logits beat and (S > 0) one kept beat.
module spvit_result_out #(
    parameter int NC      = 10,        // classes (logits)
    parameter int LOGIT_W = 32,        // logit (raw accumulator) width, signed
    parameter int S       = 3,         // selector stages (kept counts); 0: no counts
    parameter int CNT_W   = 8,         // kept-count width, unsigned
    parameter int OUT_W   = 32         // output word width
) (
    input  logic                                clk,
    input  logic                                rst_n,
    input  logic [NC*LOGIT_W-1:0]               s_axis_logits_tdata,   // NC signed logits
    input  logic                                s_axis_logits_tvalid,
    output logic                                s_axis_logits_tready,
    input  logic [((S > 0) ? S : 1)*CNT_W-1:0]  s_axis_kept_tdata,     // S unsigned counts
    input  logic                                s_axis_kept_tvalid,
    output logic                                s_axis_kept_tready,
    output logic [OUT_W-1:0]                    m_axis_tdata,          // one result word
    output logic                                m_axis_tvalid,
    input  logic                                m_axis_tready,
    output logic                                m_axis_tlast           // last word of the image
);
  localparam int SK = (S > 0) ? S : 1;
  localparam int NW = NC + S;                          // words per image
  localparam int I_W = (NW > 1) ? $clog2(NW) : 1;

  logic [NC*LOGIT_W-1:0] lreg;                         // logits, the next one in lane 0
  logic [SK*CNT_W-1:0] kreg;                           // counts, the next one in lane 0
  logic have_l, have_k, sending, o_fire, in_logits, last_word;
  logic [I_W-1:0] idx;                                 // word being sent

  assign sending = have_l && have_k;
  assign s_axis_logits_tready = !have_l;
  assign s_axis_kept_tready = (S > 0) && !have_k;
  assign in_logits = (idx < I_W'(NC));
  assign last_word = (idx == I_W'(NW - 1));
  assign o_fire = sending && m_axis_tready;

  assign m_axis_tvalid = sending;
  assign m_axis_tlast = last_word;
  assign m_axis_tdata = in_logits ? OUT_W'($signed(lreg[LOGIT_W-1:0])) : OUT_W'(kreg[CNT_W-1:0]);

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      have_l <= 1'b0;
      have_k <= (S == 0);
      idx <= '0;
    end else begin
      if (s_axis_logits_tvalid && s_axis_logits_tready) begin
        have_l <= 1'b1;
      end
      if (S > 0 && s_axis_kept_tvalid && s_axis_kept_tready) begin
        have_k <= 1'b1;
      end
      if (o_fire) begin
        idx <= last_word ? '0 : idx + 1'b1;
        if (last_word) begin
          have_l <= 1'b0;
          have_k <= (S == 0);
        end
      end
    end
  end

  always_ff @(posedge clk) begin
    if (s_axis_logits_tvalid && s_axis_logits_tready) begin
      lreg <= s_axis_logits_tdata;
    end else if (o_fire && in_logits) begin
      lreg <= lreg >> LOGIT_W;
    end
    if (s_axis_kept_tvalid && s_axis_kept_tready) begin
      kreg <= s_axis_kept_tdata;
    end else if (o_fire && !in_logits) begin
      kreg <= kreg >> CNT_W;
    end
  end
endmodule
