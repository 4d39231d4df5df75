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
// per channel.
//
// Control: start (one-cycle pulse, ignored while busy) registers dst_base and dst_stride; busy
// from the cycle after start until done; done is a one-cycle pulse in the cycle after the last
// write's am_wr_en cycle (that write has then been committed).
// AM write port (registered outputs): am_wr_en, am_wr_addr, am_wr_be (lane l), am_wr_data (lane l
// = bits [8l +: 8]); lanes whose enable is low carry don't-care data.
//
// Cycles: with the input never stalling, start at edge s and R runs in the image, done is high
// after edge s + R + 2 (the first beat is taken at edge s+1; run k = 1..R is on the write port in
// the cycle before edge s+2+k, which commits it).
// R = sum over beats of the beat's runs (spvit_fpga/rtl/vectors/ov_io.py pixel_plan); when P
// divides PIX_BYTES and L, every run is one whole segment: R = pixels / P (micro: 1x32x32, P = 4,
// L = 8: 256 runs, 258 cycles); with P = PIX_BYTES = 16, 16 | L and 16 | IMG_W, R = beats
// (3x224x224: 9408 runs, 9410 cycles); with P = 16 > L = 8, R = pixels / 8.
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
  localparam int PB_W = $clog2(PIX_BYTES + 1);         // 0 .. PIX_BYTES
  localparam int PO_W = (PIX_BYTES > 1) ? $clog2(PIX_BYTES) : 1;
  localparam int LL = (L > 1) ? $clog2(L) : 1;
  localparam int COL_W = $clog2(COLS + 1);
  localparam int Q_W = $clog2(P + 1);                  // 0 .. P
  localparam int GH_W = (GH > 1) ? $clog2(GH) : 1;
  localparam int GW_W = (GW > 1) ? $clog2(GW) : 1;
  localparam int R_W = 16;                             // run-length arithmetic (len <= 2^15)

  // ---- registered state ------------------------------------------------------------------------
  logic [AW-1:0] stride_q;
  logic [N_W-1:0] in_left;                             // pixels not yet taken from the stream
  logic [N_W-1:0] out_left;                            // pixels not yet written
  logic have;                                          // a beat is held
  logic [PIX_BYTES*8-1:0] bdata;
  logic [PB_W-1:0] bn;                                 // pixels in the held beat
  logic [PB_W-1:0] pos;                                // next pixel of the held beat
  logic [Q_W-1:0] qi;                                  // q % P
  logic [Q_W-1:0] ri;                                  // r % P
  logic [GW_W-1:0] gj;                                 // q / P
  logic [GH_W-1:0] gi;                                 // r / P
  logic [COL_W-1:0] chan_col;                          // c*P*P
  logic [COL_W-1:0] seg_col;                           // c*P*P + (r%P)*P
  logic [AW-1:0] patch_addr;                           // dst_base + g*stride
  logic [AW-1:0] row_addr;                             // dst_base + gr*GW*stride
  logic [AW-1:0] base_q;
  logic last_q;                                        // the write on the port is the image's last

  // ---- the current run (combinational from the state) --------------------------------------------
  logic [COL_W-1:0] col;
  logic [R_W-1:0] lane0, len, l_beat, l_seg, l_word;
  logic act, fin, seg_end, row_end, take, last_run;
  logic [PO_W-1:0] d;                                  // (pos - lane0) mod PIX_BYTES
  logic [L-1:0] be;
  logic [L*8-1:0] wdata;

  assign col = seg_col + COL_W'(qi);
  assign lane0 = R_W'(col) & R_W'(L - 1);
  assign l_beat = R_W'(bn) - R_W'(pos);
  assign l_seg = R_W'(P) - R_W'(qi);
  assign l_word = R_W'(L) - lane0;
  always_comb begin : p_len
    len = l_beat;
    if (l_seg < len) len = l_seg;
    if (l_word < len) len = l_word;
  end
  assign act = busy && have;
  assign fin = (len == l_beat);
  assign seg_end = (len == l_seg);
  assign row_end = seg_end && (gj == GW_W'(GW - 1));
  assign last_run = (out_left == N_W'(len));
  assign s_axis_pixels_tready = busy && (in_left != '0) && (!have || (act && fin));
  assign take = s_axis_pixels_tvalid && s_axis_pixels_tready;
  assign d = PO_W'(R_W'(pos) - lane0);

  always_comb begin : p_lanes
    for (int l = 0; l < L; l++) begin
      be[l] = (R_W'(l) >= lane0) && (R_W'(l) < lane0 + len);
      wdata[l*8+:8] = bdata[PO_W'(PO_W'(l) + d)*8+:8];
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      busy <= 1'b0;
      done <= 1'b0;
      have <= 1'b0;
      am_wr_en <= 1'b0;
      last_q <= 1'b0;
      in_left <= '0;
      out_left <= '0;
    end else begin
      done <= am_wr_en && last_q;
      am_wr_en <= act;
      last_q <= act && last_run;
      if (!busy) begin
        if (start) begin
          busy <= 1'b1;
          base_q <= dst_base;
          stride_q <= dst_stride;
          in_left <= N_W'(NPIX);
          out_left <= N_W'(NPIX);
          have <= 1'b0;
          pos <= '0;
          qi <= '0;
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
          bn <= (in_left < N_W'(PIX_BYTES)) ? PB_W'(in_left) : PB_W'(PIX_BYTES);
          in_left <= (in_left < N_W'(PIX_BYTES)) ? '0 : in_left - N_W'(PIX_BYTES);
          pos <= '0;
        end else if (act) begin
          if (fin) begin
            have <= 1'b0;
          end
          pos <= pos + PB_W'(len);
        end
        // the pixel position after the run
        if (act) begin
          out_left <= out_left - N_W'(len);
          if (!seg_end) begin
            qi <= qi + Q_W'(len);
          end else begin
            qi <= '0;
            if (!row_end) begin
              gj <= gj + 1'b1;
              patch_addr <= patch_addr + stride_q;
            end else begin
              gj <= '0;
              if (ri != Q_W'(P - 1)) begin               // next image row, same patch row
                ri <= ri + 1'b1;
                seg_col <= seg_col + COL_W'(P);
                patch_addr <= row_addr;
              end else begin
                ri <= '0;
                if (gi != GH_W'(GH - 1)) begin           // next patch row
                  gi <= gi + 1'b1;
                  seg_col <= chan_col;
                  patch_addr <= patch_addr + stride_q;
                  row_addr <= patch_addr + stride_q;
                end else begin                           // next channel
                  gi <= '0;
                  chan_col <= chan_col + COL_W'(P * P);
                  seg_col <= chan_col + COL_W'(P * P);
                  patch_addr <= base_q;
                  row_addr <= base_q;
                end
              end
            end
          end
        end
      end
    end
  end

  // the write (registered outputs)
  always_ff @(posedge clk) begin
    if (act) begin
      am_wr_addr <= patch_addr + AW'(col >> LL);
      am_wr_be <= be;
      am_wr_data <= wdata;
    end
  end

  // Pixels are counted: tkeep and tlast carry nothing the unit needs.
  logic unused_ok;
  assign unused_ok = &{1'b0, s_axis_pixels_tkeep, s_axis_pixels_tlast};
endmodule
