// spvit_patchify: pixel stream -> patch-token stream (reference.py _patches).
//
// Input: one PIX_W-bit pixel a beat, in the order channel c, row r, column q (raster order,
// channel-major: all of channel 0, then channel 1, ...), CIN*IMG*IMG pixels an image; tlast on
// the image's last pixel (not looked at: the position is counted).  Output: a token stream
// (rtl/DATAFLOW.md) of the G*G patch tokens of each image (G = IMG/P) in patch order (patch
// row-major: token t = gr*G + gc covers rows gr*P.., columns gc*P..), each token LANES =
// CIN*P*P lanes of PIX_W bits with
//     lane  c*P*P + (r%P)*P + (q%P)  =  pixel (c, r, q),
// exactly reference.py _patches (image.reshape(C,G,P,G,P).permute(1,3,0,2,4)); tuser = 1 (patch)
// on every token, tlast on the image's last token.  Pixels are carried as raw bits.
//
// Buffer: NB regions ("bands") of G token slots, each slot one LANES*PIX_W-bit memory word
// written a lane (pixel) at a time (column write enables: a block RAM with byte-wide write
// enables when PIX_W = 8/9) and read a whole token at a time (registered read).  A band of P
// rows goes to one region: pixel (c, r, q) to lane c*P*P + (r%P)*P + q%P of slot q/P.  A region
// is full when its band's last pixel of the last channel is written; the output then reads its
// G tokens in order and frees it.
//   * CIN = 1: NB = 2 (two bands of P rows, 2*P*IMG pixels): one band is written while the
//     other one is read out.
//   * CIN > 1: NB = G, the whole image (CIN*IMG*IMG pixels): the input is channel-major, so a
//     band's tokens are complete only when the last channel's band arrives, after every other
//     channel of every band; region gr holds band gr.  The next image's band gr is written as
//     soon as this image's band gr has been read out.
//
// Cycles: the input takes one pixel a cycle; it stalls only while the region the next pixel
// belongs to is still full (not yet read out: with NB = 2 / G that needs output back-pressure;
// with G = 1, CIN > 1 the next image waits one cycle for the single token to leave).  A band's
// G tokens are on m_axis one a cycle from the clock edge after the one that accepted the band's
// last pixel.  Without back-pressure, images back to back take CIN*IMG*IMG cycles each, and an
// image's last token is transferred G edges after the edge that accepted its last pixel
// (checked by rtl_sim/tb_patchify.py: 3 micro-model images, 3072 pixels, in 3081 cycles).
//
// Preconditions: P divides IMG; every image has exactly CIN*IMG*IMG pixels.
module spvit_patchify #(
    parameter int IMG    = 32,         // image height = width (pixels)
    parameter int P      = 4,          // patch size (P divides IMG)
    parameter int CIN    = 1,          // channels
    parameter int PIX_W  = 8,          // bits per pixel
    parameter int USER_W = 2           // token-kind width (tuser = 1: patch)
) (
    input  logic                         clk,
    input  logic                         rst_n,
    input  logic [PIX_W-1:0]             s_axis_tdata,    // one pixel
    input  logic                         s_axis_tvalid,
    output logic                         s_axis_tready,
    input  logic                         s_axis_tlast,    // image's last pixel (not used)
    output logic [CIN*P*P*PIX_W-1:0]     m_axis_tdata,    // one patch token, LANES lanes
    output logic                         m_axis_tvalid,
    input  logic                         m_axis_tready,
    output logic                         m_axis_tlast,    // image's last token
    output logic [USER_W-1:0]            m_axis_tuser     // 1 (patch)
);
  localparam int G = IMG / P;                          // patches per row / column
  localparam int PP = P * P;
  localparam int LANES = CIN * PP;
  localparam int NB = (CIN == 1) ? 2 : G;              // regions (bands) in the buffer
  localparam int SLOTS = NB * G;                       // token slots
  localparam int P_W = (P > 1) ? $clog2(P) : 1;
  localparam int G_W = (G > 1) ? $clog2(G) : 1;
  localparam int C_W = (CIN > 1) ? $clog2(CIN) : 1;
  localparam int R_W = (NB > 1) ? $clog2(NB) : 1;
  localparam int A_W = (SLOTS > 1) ? $clog2(SLOTS) : 1;

  logic [LANES*PIX_W-1:0] mem[SLOTS];
  logic [NB-1:0] full;                                 // region holds a complete band
  logic [NB-1:0] full_set, full_clr;

  // ---- write side: pixel position -------------------------------------------------------------
  logic [P_W-1:0] qi, ri;                              // column / row within the patch
  logic [G_W-1:0] qb;                                  // patch column (slot in the region)
  logic [G_W-1:0] rb;                                  // band (patch row) within the channel
  logic [C_W-1:0] c;                                   // channel
  logic [R_W-1:0] wr;                                  // region being written
  logic [A_W-1:0] wbase;                               // its first slot
  logic w_fire, row_end, band_end;
  logic [LANES-1:0] we;

  assign s_axis_tready = !full[wr];
  assign w_fire = s_axis_tvalid && s_axis_tready;
  assign row_end = (qi == P_W'(P - 1)) && (qb == G_W'(G - 1));
  assign band_end = row_end && (ri == P_W'(P - 1));

  always_comb begin : p_we
    for (int l = 0; l < LANES; l++) begin
      we[l] = w_fire && (c == C_W'(l / PP)) && (ri == P_W'((l % PP) / P)) && (qi == P_W'(l % P));
    end
  end

  always_ff @(posedge clk) begin
    for (int l = 0; l < LANES; l++) begin
      if (we[l]) begin
        mem[wbase+A_W'(qb)][l*PIX_W+:PIX_W] <= s_axis_tdata;
      end
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      qi <= '0;
      qb <= '0;
      ri <= '0;
      rb <= '0;
      c <= '0;
      wr <= '0;
      wbase <= '0;
    end else if (w_fire) begin
      qi <= (qi == P_W'(P - 1)) ? '0 : qi + 1'b1;
      if (qi == P_W'(P - 1)) begin
        qb <= (qb == G_W'(G - 1)) ? '0 : qb + 1'b1;
      end
      if (row_end) begin
        ri <= (ri == P_W'(P - 1)) ? '0 : ri + 1'b1;
      end
      if (band_end) begin
        rb <= (rb == G_W'(G - 1)) ? '0 : rb + 1'b1;
        if (rb == G_W'(G - 1)) begin
          c <= (c == C_W'(CIN - 1)) ? '0 : c + 1'b1;
        end
        wr <= (wr == R_W'(NB - 1)) ? '0 : wr + 1'b1;
        wbase <= (wr == R_W'(NB - 1)) ? '0 : wbase + A_W'(G);
      end
    end
  end

  always_comb begin : p_set
    full_set = '0;
    full_set[wr] = w_fire && band_end && (c == C_W'(CIN - 1));
  end

  // ---- read side: one token a cycle from the oldest full region ----------------------------------
  logic [R_W-1:0] rr;                                  // region being read
  logic [A_W-1:0] rbase;
  logic [G_W-1:0] rslot;                               // slot within the region
  logic [G_W-1:0] rband;                               // band of the image (for tlast)
  logic rd_en, rd_region_end;

  assign rd_en = full[rr] && (!m_axis_tvalid || m_axis_tready);
  assign rd_region_end = (rslot == G_W'(G - 1));

  always_comb begin : p_clr
    full_clr = '0;
    full_clr[rr] = rd_en && rd_region_end;
  end

  always_ff @(posedge clk) begin
    if (rd_en) begin
      m_axis_tdata <= mem[rbase+A_W'(rslot)];
      m_axis_tlast <= rd_region_end && (rband == G_W'(G - 1));
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      full <= '0;
      rr <= '0;
      rbase <= '0;
      rslot <= '0;
      rband <= '0;
      m_axis_tvalid <= 1'b0;
    end else begin
      full <= (full & ~full_clr) | full_set;
      if (rd_en) begin
        m_axis_tvalid <= 1'b1;
        rslot <= rd_region_end ? '0 : rslot + 1'b1;
        if (rd_region_end) begin
          rband <= (rband == G_W'(G - 1)) ? '0 : rband + 1'b1;
          rr <= (rr == R_W'(NB - 1)) ? '0 : rr + 1'b1;
          rbase <= (rr == R_W'(NB - 1)) ? '0 : rbase + A_W'(G);
        end
      end else if (m_axis_tready) begin
        m_axis_tvalid <= 1'b0;
      end
    end
  end

  assign m_axis_tuser = USER_W'(1);

  // The pixel position is counted; tlast carries no extra information.
  logic unused_ok;
  assign unused_ok = &{1'b0, s_axis_tlast};
endmodule
