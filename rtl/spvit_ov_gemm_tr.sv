// spvit_ov_gemm_tr: the L x L corner turner of the overlay GEMM's transposed AM destination
// (program.Gemm dst_kind "am_t": V -> V^T).  Value (row r, output n = b*L + i) goes to AM word
// dst_base + n*dst_stride + r/L, lane r % L.
//
// Input: the epilogue's rows of one n-block in groups of L slots (slot j = row g*L + j; the GEMM
// pads the last group of a tile with invalid slots, so every group is exactly L consecutive
// cycles).  Storage: L banks of distributed RAM, 2L bytes each (two groups); element (slot j,
// lane i) is written to bank (i + j) mod L at address {half, j} (the input word rotated by j), so
// one cycle writes a whole row.  When slot L-1 of a group has been written (cycle W), the group is
// read out in cycles W+1 .. W+L: step i reads bank k at {half, (k - i) mod L}, which is element
// (slot (k - i) mod L, lane i), and rotates the word back by i: output word i holds lane i of all
// L slots, lane j = slot j.  It is written to AM word in_addr + i*stride (in_addr = the group's
// word for output lane 0) with byte enables = the group's valid slots, in cycle W + 3 + i; words
// of output lanes >= n_last in the last block (in_lb) are not written.  The next group goes to the
// other half; a group two later reuses this half only after the read-out has finished (each group
// occupies L cycles).  done: one-cycle pulse in cycle W + L + 3 after a group whose last slot
// carried in_fin (every write of it committed).
// Preconditions: groups of exactly L consecutive slots; in_j counts 0..L-1 within a group.
module spvit_ov_gemm_tr #(
    parameter int L   = 8,   // lanes (and slots a group)
    parameter int A_W = 12,  // AM word address width
    localparam int LG = $clog2(L)
) (
    input  logic             clk,
    input  logic             rst_n,
    input  logic             in_slot,   // a slot arrives (valid row or padding)
    input  logic             in_valid,  // the slot is a valid row
    input  logic [LG-1:0]    in_j,      // slot index within the group
    input  logic [L*8-1:0]   in_data,   // lane i = output n = b*L + i of this row
    input  logic [A_W-1:0]   in_addr,   // AM word of (output lane 0, this group)
    input  logic             in_lb,     // last n-block: only lanes with n_mask set are written
    input  logic             in_fin,    // last slot of the instruction
    input  logic [L-1:0]     n_mask,    // valid output lanes of the last block
    input  logic [A_W-1:0]   stride,    // dst_stride (words from output n to n+1)
    output logic             wr_en,
    output logic [A_W-1:0]   wr_addr,
    output logic [L-1:0]     wr_be,
    output logic [L*8-1:0]   wr_data,
    output logic             done
);
  logic wr_half;                 // half the current group is written to
  logic [L-1:0] vmask[2];        // valid slots of the group in each half

  // ---- write: rotate the row by j (log2 L stages of 2:1 muxes), one bank write each --------
  //   bank k takes lane (k - j) mod L
  for (genvar st = 0; st < LG; st++) begin : g_rin
    logic [L*8-1:0] v;
    for (genvar k = 0; k < L; k++) begin : g_k
      localparam int SRC = (k - (1 << st) + L) % L;
      if (st == 0) begin : g_first
        assign v[k*8+:8] = in_j[st] ? in_data[SRC*8+:8] : in_data[k*8+:8];
      end else begin : g_next
        assign v[k*8+:8] = in_j[st] ? g_rin[st-1].v[SRC*8+:8] : g_rin[st-1].v[k*8+:8];
      end
    end
  end
  for (genvar k = 0; k < L; k++) begin : g_bank
    logic [7:0] mem[2*L];
    always_ff @(posedge clk) begin
      if (in_slot && in_valid) begin
        mem[{wr_half, in_j}] <= g_rin[LG-1].v[k*8+:8];
      end
    end
  end

  // ---- read-out state ----------------------------------------------------------------------
  logic rd_active, rd_half, rd_lb, rd_fin;
  logic [LG-1:0] rd_i;
  logic [A_W-1:0] rd_addr;
  logic s1_valid, s1_fin, s2_fin;
  logic [LG-1:0] s1_i;
  logic [A_W-1:0] s1_addr;
  logic [L-1:0] s1_be;
  logic [L*8-1:0] s1_q;

  for (genvar k = 0; k < L; k++) begin : g_read
    logic [LG-1:0] a;
    assign a = LG'(k) - rd_i;
    always_ff @(posedge clk) begin
      s1_q[k*8+:8] <= g_bank[k].mem[{rd_half, a}];
    end
  end

  // read-out rotation: output lane j takes s1_q lane (j + i) mod L
  for (genvar st = 0; st < LG; st++) begin : g_rout
    logic [L*8-1:0] v;
    for (genvar j = 0; j < L; j++) begin : g_j
      localparam int SRC = (j + (1 << st)) % L;
      if (st == 0) begin : g_first
        assign v[j*8+:8] = s1_i[st] ? s1_q[SRC*8+:8] : s1_q[j*8+:8];
      end else begin : g_next
        assign v[j*8+:8] = s1_i[st] ? g_rout[st-1].v[SRC*8+:8] : g_rout[st-1].v[j*8+:8];
      end
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      wr_half <= 1'b0;
      rd_active <= 1'b0;
      s1_valid <= 1'b0;
      s1_fin <= 1'b0;
      s2_fin <= 1'b0;
      wr_en <= 1'b0;
      done <= 1'b0;
    end else begin
      if (in_slot) begin
        vmask[wr_half][in_j] <= in_valid;
      end
      if (in_slot && in_j == LG'(L - 1)) begin
        wr_half <= !wr_half;
        rd_active <= 1'b1;
        rd_i <= '0;
        rd_half <= wr_half;
        rd_addr <= in_addr;
        rd_lb <= in_lb;
        rd_fin <= in_fin;
      end else if (rd_active) begin
        rd_i <= rd_i + 1'b1;
        rd_addr <= rd_addr + stride;
        if (rd_i == LG'(L - 1)) begin
          rd_active <= 1'b0;
        end
      end
      // stage 1: bank reads (g_read), lane i valid?
      s1_valid <= rd_active && (!rd_lb || n_mask[rd_i]);
      s1_fin <= rd_active && rd_fin && rd_i == LG'(L - 1);
      s1_i <= rd_i;
      s1_addr <= rd_addr;
      s1_be <= vmask[rd_half];
      // stage 2: rotate back by i, drive the AM write port
      wr_en <= s1_valid;
      wr_addr <= s1_addr;
      wr_be <= s1_be;
      wr_data <= g_rout[LG-1].v;
      s2_fin <= s1_fin;
      done <= s2_fin;
    end
  end
endmodule
