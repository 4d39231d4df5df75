// spvit_ov_pixels: the overlay engine's PIXELS instruction -- one image from the pixel AXI-Stream
// into the patch tensor in an activation bank (AM).
//
// Input: the image [C, IMG_H, IMG_W] of 8-bit pixels in C-plane raster order (pixel
// k = c*IMG_H*IMG_W + r*IMG_W + q), PIX_BYTES pixels a beat (byte i of beat j = pixel
// j*PIX_BYTES + i), ceil(C*IMG_H*IMG_W / PIX_BYTES) beats; the last beat is partial when the pixel
// count is not a multiple of PIX_BYTES (its upper bytes are ignored).  Pixels are counted: tkeep
// and tlast are not looked at.
// Output: the patch tensor [G, C*P*P] (G = GH*GW patches, GH = IMG_H/P, GW = IMG_W/P) as in
// spvit_fpga/hw/overlay/execute.py (_Engine.pixels) and reference.py _patches:
//     row g = gr*GW + gc (patch row-major), column col = c*P*P + (r%P)*P + (q%P)
// for pixel (c, r, q) with gr = r/P, gc = q/P, written to AM word dst_base + g*dst_stride + col/L,
// lane col%L (8-bit lanes; raw bits, whatever the tensor's signedness).
//
// Algorithm: a beat is held in a register and split into runs; a run is the longest stretch of
// the beat's remaining pixels that stays inside one patch row segment (P pixels of one image row
// in one patch) and one AM word:
//     len = min(pixels left in the beat, P - q%P, L - col%L)
// Each run is one AM word write (lane enables on lanes col%L .. col%L+len-1), one run a cycle; the
// next beat is taken in the cycle of the current beat's last run (s_axis_pixels_tready is high
// then, or while no beat is held).  So a beat that spans several patch segments (P < PIX_BYTES),
// several AM words (a segment wider than L, or straddling a word boundary) or two image rows takes
// several cycles with tready low; with P = PIX_BYTES = 16, 16 | L and 16 | IMG_W every beat is one
// segment in one word: one beat a cycle.
// Addresses are kept incrementally (no multiplier): patch address + stride per patch, the next
// patch row starts at the last patch's address + stride; column bases add P per image row and P*P
// per channel.  For a short clock path the three limits of a run are kept as registers (pixels
// left in the beat, in the segment, in the word) and compared pairwise in parallel; the lane
// enables, the lane shift and the address add are a second register stage.
//
// Control: start (one-cycle pulse, ignored while busy) registers dst_base and dst_stride; busy
// from the cycle after start until done; done is a one-cycle pulse in the cycle after the last
// write's am_wr_en cycle (that write has then been committed).  s_axis_pixels_tready is low while
// not busy, so the image may be offered before start.
// AM write port (registered outputs): am_wr_en, am_wr_addr, am_wr_be (lane l), am_wr_data (lane l
// = bits [8l +: 8]); lanes whose enable is low carry don't-care data.
//
// Cycles: with the input never stalling, start at edge s and R runs in the image, done is high
// after edge s + R + 3 (the first beat is taken at edge s+1; run k = 1..R is computed at edge
// s+1+k and on the write port in the cycle before edge s+3+k, which commits it).
// R = sum over beats of the beat's runs (spvit_fpga/rtl/vectors/ov_io.py pixel_plan); when P
// divides PIX_BYTES and L, every run is one whole segment: R = pixels / P (micro: 1x32x32, P = 4,
// L = 8: 256 runs, 259 cycles); with P = PIX_BYTES = 16, 16 | L and 16 | IMG_W, R = beats
// (3x224x224: 9408 runs, 9411 cycles); with P = 16 > L = 8, R = pixels / 8.
//
// Preconditions: P divides IMG_H and IMG_W; PIX_BYTES and L powers of two; dst_stride >=
// ceil(C*P*P / L); the tensor fits the AW-bit address space.
module spvit_ov_pixels #(
    parameter int L         = 8,       // AM lanes (8-bit) per word
    parameter int C         = 1,       // image channels
    parameter int IMG_H     = 32,      // image height (pixels)
    parameter int IMG_W     = 32,      // image width (pixels)
    parameter int P         = 4,       // patch size
    parameter int PIX_BYTES = 16,      // pixels (bytes) per stream beat
    parameter int AW        = 16       // AM word-address width
) (
    input  logic                    clk,
    input  logic                    rst_n,
    // control
    input  logic                    start,        // pulse: receive one image
    input  logic [AW-1:0]           dst_base,     // word address of row 0 of the patch tensor
    input  logic [AW-1:0]           dst_stride,   // words per patch row
    output logic                    busy,
    output logic                    done,         // pulse: every write committed
    // pixel stream (slave)
    input  logic [PIX_BYTES*8-1:0]  s_axis_pixels_tdata,
    input  logic [PIX_BYTES-1:0]    s_axis_pixels_tkeep,  // not looked at (pixels are counted)
    input  logic                    s_axis_pixels_tvalid,
    output logic                    s_axis_pixels_tready,
    input  logic                    s_axis_pixels_tlast,  // not looked at
    // AM write port
    output logic                    am_wr_en,
    output logic [AW-1:0]           am_wr_addr,
    output logic [L-1:0]            am_wr_be,
    output logic [L*8-1:0]          am_wr_data
);
  localparam int GH = IMG_H / P;
  localparam int GW = IMG_W / P;
  localparam int NPIX = C * IMG_H * IMG_W;
  localparam int COLS = C * P * P;
  localparam int N_W = $clog2(NPIX + 1);               // pixel counts
  localparam int PO_W = (PIX_BYTES > 1) ? $clog2(PIX_BYTES) : 1;
  localparam int LL = (L > 1) ? $clog2(L) : 1;
  localparam int COL_W = $clog2(COLS + P * P + 1);     // column bases (one channel past the end)
  localparam int Q_W = $clog2(P + 1);                  // 0 .. P
  localparam int GH_W = (GH > 1) ? $clog2(GH) : 1;
  localparam int GW_W = (GW > 1) ? $clog2(GW) : 1;
  localparam int MX = (P > L) ? ((P > PIX_BYTES) ? P : PIX_BYTES) : ((L > PIX_BYTES) ? L : PIX_BYTES);
  localparam int R_W = $clog2(MX + 1);                 // run lengths and the three limits

  // ---- stage 1: run state ------------------------------------------------------------------------
  logic [AW-1:0] stride_q, base_q;
  logic [N_W-1:0] in_left;                             // pixels not yet taken from the stream
  logic in_done;                                       // every beat taken
  logic have;                                          // a beat is held
  logic [PIX_BYTES*8-1:0] bdata;
  logic [R_W-1:0] beat_rem;                            // pixels left in the held beat
  logic [PO_W-1:0] pos;                                // next pixel of the held beat (mod PIX_BYTES)
  logic [R_W-1:0] seg_rem;                             // P - q%P
  logic [R_W-1:0] word_rem;                            // L - col%L
  logic [LL-1:0] lane0;                                // col % L
  logic [COL_W-1:0] wofs;                              // col / L
  logic [GW_W-1:0] gj;                                 // q / P
  logic [Q_W-1:0] ri;                                  // r % P
  logic [GH_W-1:0] gi;                                 // r / P
  logic [COL_W-1:0] chan_col;                          // c*P*P
  logic [COL_W-1:0] seg_col;                           // c*P*P + (r%P)*P
  logic [AW-1:0] patch_addr;                           // dst_base + g*stride
  logic [AW-1:0] row_addr;                             // dst_base + gr*GW*stride

  logic act, fin, seg_end, word_end, row_end, band_end, chan_end, take;
  logic [R_W-1:0] len;

  assign act = busy && have;
  // the run ends at the first of the three limits (pairwise compares, in parallel)
  assign fin = (beat_rem <= seg_rem) && (beat_rem <= word_rem);
  assign seg_end = (seg_rem <= beat_rem) && (seg_rem <= word_rem);
  assign word_end = (word_rem <= beat_rem) && (word_rem <= seg_rem);
  assign len = fin ? beat_rem : (seg_end ? seg_rem : word_rem);
  assign row_end = seg_end && (gj == GW_W'(GW - 1));
  assign band_end = row_end && (ri == Q_W'(P - 1));
  assign chan_end = band_end && (gi == GH_W'(GH - 1));
  assign s_axis_pixels_tready = busy && !in_done && (!have || (act && fin));
  assign take = s_axis_pixels_tvalid && s_axis_pixels_tready;

  // the column where the next segment starts, for each way the segment can end
  logic [COL_W-1:0] ncol;
  always_comb begin : p_ncol
    if (!row_end) ncol = seg_col;                        // next patch, same image row
    else if (!band_end) ncol = seg_col + COL_W'(P);      // next image row
    else if (!chan_end) ncol = chan_col;                 // next patch row
    else ncol = chan_col + COL_W'(P * P);                // next channel
  end

  // ---- stage 2 inputs (registered at each run) -----------------------------------------------------
  logic s1_v, s1_last;
  logic [LL-1:0] s1_lane0;
  logic [R_W-1:0] s1_len;
  logic [PO_W-1:0] s1_d;                               // (pos - lane0) mod PIX_BYTES
  logic [PIX_BYTES*8-1:0] s1_data;
  logic [AW-1:0] s1_paddr;
  logic [COL_W-1:0] s1_wofs;
  logic last_q;                                        // the write on the port is the image's last

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      busy <= 1'b0;
      done <= 1'b0;
      have <= 1'b0;
      in_left <= '0;
      in_done <= 1'b1;
      s1_v <= 1'b0;
      s1_last <= 1'b0;
      am_wr_en <= 1'b0;
      last_q <= 1'b0;
    end else begin
      s1_v <= act;
      s1_last <= act && fin && in_done;
      am_wr_en <= s1_v;
      last_q <= s1_v && s1_last;
      done <= am_wr_en && last_q;
      if (!busy) begin
        if (start) begin
          busy <= 1'b1;
          base_q <= dst_base;
          stride_q <= dst_stride;
          in_left <= N_W'(NPIX);
          in_done <= 1'b0;
          have <= 1'b0;
          pos <= '0;
          seg_rem <= R_W'(P);
          word_rem <= R_W'(L);
          lane0 <= '0;
          wofs <= '0;
          ri <= '0;
          gj <= '0;
          gi <= '0;
          chan_col <= '0;
          seg_col <= '0;
          patch_addr <= dst_base;
          row_addr <= dst_base;
        end
      end else begin
        if (am_wr_en && last_q) begin
          busy <= 1'b0;
        end
        // the held beat
        if (take) begin
          have <= 1'b1;
          bdata <= s_axis_pixels_tdata;
          beat_rem <= (in_left < N_W'(PIX_BYTES)) ? R_W'(in_left) : R_W'(PIX_BYTES);
          in_left <= (in_left < N_W'(PIX_BYTES)) ? '0 : in_left - N_W'(PIX_BYTES);
          in_done <= (in_left <= N_W'(PIX_BYTES));
          pos <= '0;
        end else if (act) begin
          if (fin) begin
            have <= 1'b0;
          end
          beat_rem <= beat_rem - len;
          pos <= pos + PO_W'(len);
        end
        // the pixel position after the run
        if (act) begin
          if (seg_end) begin
            seg_rem <= R_W'(P);
            seg_col <= ncol;
            lane0 <= LL'(ncol);
            word_rem <= R_W'(L) - R_W'(LL'(ncol));
            wofs <= ncol >> LL;
            if (!row_end) begin
              gj <= gj + 1'b1;
              patch_addr <= patch_addr + stride_q;
            end else begin
              gj <= '0;
              if (!band_end) begin                       // next image row, same patch row
                ri <= ri + 1'b1;
                patch_addr <= row_addr;
              end else begin
                ri <= '0;
                if (!chan_end) begin                     // next patch row
                  gi <= gi + 1'b1;
                  patch_addr <= patch_addr + stride_q;
                  row_addr <= patch_addr + stride_q;
                end else begin                           // next channel
                  gi <= '0;
                  chan_col <= chan_col + COL_W'(P * P);
                  patch_addr <= base_q;
                  row_addr <= base_q;
                end
              end
            end
          end else begin
            seg_rem <= seg_rem - len;
            if (word_end) begin
              lane0 <= '0;
              word_rem <= R_W'(L);
              wofs <= wofs + 1'b1;
            end else begin
              lane0 <= lane0 + LL'(len);
              word_rem <= word_rem - len;
            end
          end
        end
      end
    end
  end

  // stage-2 operands of the run
  always_ff @(posedge clk) begin
    if (act) begin
      s1_lane0 <= lane0;
      s1_len <= len;
      s1_d <= pos - PO_W'(lane0);
      s1_data <= bdata;
      s1_paddr <= patch_addr;
      s1_wofs <= wofs;
    end
  end

  // ---- stage 2: lane enables, lane shift, address (registered outputs) ------------------------------
  logic [R_W:0] lane_end;
  logic [L-1:0] be;
  logic [L*8-1:0] wdata;
  assign lane_end = (R_W+1)'(s1_lane0) + (R_W+1)'(s1_len);
  always_comb begin : p_lanes
    for (int l = 0; l < L; l++) begin
      be[l] = ((R_W+1)'(l) >= (R_W+1)'(s1_lane0)) && ((R_W+1)'(l) < lane_end);
      wdata[l*8+:8] = s1_data[PO_W'(PO_W'(l) + s1_d)*8+:8];
    end
  end

  always_ff @(posedge clk) begin
    if (s1_v) begin
      am_wr_addr <= s1_paddr + AW'(s1_wofs);
      am_wr_be <= be;
      am_wr_data <= wdata;
    end
  end

  // Pixels are counted: tkeep and tlast carry nothing the unit needs.
  logic unused_ok;
  assign unused_ok = &{1'b0, s_axis_pixels_tkeep, s_axis_pixels_tlast};
endmodule
