// spvit_ov_layernorm_pram: one part of a param-stream blob (rsqrt table, gamma or beta), written
// beat by beat as it is popped and read word by word (a word = WB bytes of the part: one table
// entry, or the L gammas / L betas of one channel word).
//
// Beat b of the part holds bytes [b*SB, (b+1)*SB) of the part; word w is bytes [w*WB, (w+1)*WB).
// Both SB and WB are powers of two, so either
//   WB >= SB: a word spans G = WB/SB beats; the RAM is G banks of one beat, beat b goes to bank
//             b % G at address b / G, and a read returns the G banks of address w side by side;
//   WB <  SB: a beat holds K = SB/WB words; the RAM holds one beat an address (beat b at b), a
//             read fetches address w / K and selects slot w % K.
// Read latency 2 (RAM output register, then the slot select register): rd_data is word rd_word
// of 2 cycles earlier.  Reading a word that was never written returns undefined data.
// Preconditions: SB and WB powers of two; words < WORDS; the write and the read of one
// address are not in the same cycle.  No reset (storage only).
module spvit_ov_layernorm_pram #(
    parameter int SB    = 32,   // bytes a beat (power of two)
    parameter int WB    = 16,   // bytes a word (power of two)
    parameter int WORDS = 16    // words the part holds at most
) (
    input  logic                     clk,
    input  logic                     wr_en,     // write beat wr_beat of the part
    input  logic [31:0]              wr_beat,   // beat index within the part
    input  logic [SB*8-1:0]          wr_data,   // the beat
    input  logic [31:0]              rd_word,   // word to read (every cycle)
    output logic [WB*8-1:0]          rd_data    // word rd_word of 2 cycles earlier
);
  if (WB >= SB) begin : g_wide
    localparam int G = WB / SB;                            // beats a word
    localparam int AW = (WORDS > 1) ? $clog2(WORDS) : 1;
    logic [WB*8-1:0] rd_q;
    for (genvar g = 0; g < G; g++) begin : g_bank
      logic [SB*8-1:0] mem[WORDS];
      always_ff @(posedge clk) begin
        if (wr_en && (wr_beat % G) == g) begin
          mem[AW'(wr_beat / G)] <= wr_data;
        end
        rd_q[g*SB*8+:SB*8] <= mem[AW'(rd_word)];
      end
    end
    always_ff @(posedge clk) begin
      rd_data <= rd_q;
    end
  end else begin : g_narrow
    localparam int K = SB / WB;                            // words a beat
    localparam int KW = $clog2(K);
    localparam int DEPTH = (WORDS + K - 1) / K;
    localparam int AW = (DEPTH > 1) ? $clog2(DEPTH) : 1;
    logic [SB*8-1:0] mem[DEPTH];
    logic [SB*8-1:0] rd_q;
    logic [KW-1:0] slot;
    always_ff @(posedge clk) begin
      if (wr_en) begin
        mem[AW'(wr_beat)] <= wr_data;
      end
      rd_q <= mem[AW'(rd_word >> KW)];
      slot <= KW'(rd_word);
      rd_data <= rd_q[32'(slot)*WB*8+:WB*8];
    end
  end

  // address bits above the part's size are zero by the preconditions
  logic unused_addr;
  assign unused_addr = &{1'b0, wr_beat, rd_word};
endmodule
