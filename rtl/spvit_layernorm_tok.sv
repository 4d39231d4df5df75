// spvit_layernorm_tok: spvit_layernorm on token streams (rtl/DATAFLOW.md "Token streams"), with
// gamma / beta from a ROM.
//
//   y_j = spvit_layernorm(x_j)  for every token j   (intops.int_layernorm_normalize, then
//         requantize(gamma * n + beta, OUT_SHIFT, OUT); the kernel's header has the algorithm)
//
// Input: one token a beat, C lanes of IN_W bits (signed; lane i = channel i), tuser (USER_W bits,
// the token kind) and tlast (last token of the frame).  Output: one token a beat, C lanes of OUT_W
// bits, with the token's tuser and tlast unchanged.
// The token is held in an input register and fed to spvit_layernorm LANES channels a cycle
// (P = C/LANES beats, beat b = channels b*LANES .. b*LANES + LANES-1); its gamma_i / beta_i come
// from a ROM read one beat ahead of the kernel.  GB_FILE ($readmemh; a pair {beta_i, gamma_i} is
// BETA_W + G_W bits, the s_axis_gb lane packing of spvit_layernorm):
//   GB_PACKED = 0: C lines, line i = the pair of channel i.  LANES spvit_rom copies of it; copy l
//                  reads line b*LANES + l for beat b (a synthesiser that propagates the constant
//                  low address bits across the hierarchy keeps only P words of each when LANES is
//                  a power of two).
//   GB_PACKED = 1: P lines of LANES*(BETA_W + G_W) bits, line b = the pairs of beat b, channel
//                  b*LANES + l at bits [l*(BETA_W+G_W) +: BETA_W+G_W].  One spvit_rom, P words.
// the output beats are gathered into the output register.  tuser / tlast wait in a side FIFO
// (4 entries, 8 with OVERLAP; pushed when a token is accepted, popped when it leaves), which also
// bounds the tokens in flight.
// Cycles without stalls (checked by rtl_sim/tb_tokwrap.py), P = C/LANES:
//   OVERLAP = 0: 2*P + 6 a token, the kernel's rate (the next token waits in the input register
//                while the kernel normalises); T tokens back to back take T*(2*P + 6) + 3 cycles
//                from the first input beat to the last output beat.
//   OVERLAP = 1: max(P, 5) a token (the kernel receives the next token while it normalises this
//                one); T tokens take (T-1)*max(P, 5) + 2*P + 9 cycles.
// Preconditions: C >= 2; LANES divides C; the GB_FILE has C lines (P when GB_PACKED).
module spvit_layernorm_tok #(
    parameter int          C          = 192,          // channels
    parameter int          IN_W       = 16,           // input width (residual stream)
    parameter int          SUM_W      = 24,           // layernorm_params.sum_bits
    parameter int          DEV_W      = 25,           // layernorm_params.dev_bits
    parameter int          VAR_W      = 53,           // layernorm_params.var_bits
    parameter logic [63:0] EPS_INT    = 64'd463856,   // layernorm_params.eps_int
    parameter int          M          = 10,           // mantissa bits (table 3 * 2^(M-2) entries)
    parameter int          T_W        = 16,           // rsqrt table entry width
    parameter int          R          = 16,           // layernorm_params.rsqrt_shift
    parameter              RSQRT_FILE = "rsqrt.hex",  // $readmemh of layernorm_params.table
    parameter int          NORM_W     = 16,           // normalised value width (norm_fmt.bits)
    parameter int          NORM_FRAC  = 10,           // normalised value frac (norm_fmt.frac)
    parameter int          G_W        = 8,            // gamma width
    parameter int          BETA_W     = 32,           // beta width (frac f_g + NORM_FRAC)
    parameter int          OUT_SHIFT  = 14,           // f_g + NORM_FRAC - f_out
    parameter int          OUT_W      = 8,            // output width
    parameter bit          OUT_SIGNED = 1'b1,         // output signed
    parameter              GB_FILE    = "gb.hex",     // $readmemh of the {beta_i, gamma_i} (GB_PACKED)
    parameter int          USER_W     = 2,            // tuser width (token kind)
    parameter int          LANES      = 1,            // channels a cycle into the kernel (divides C)
    parameter bit          OVERLAP    = 1'b0,         // kernel OVERLAP: receive overlaps normalise
    parameter bit          GB_PACKED  = 1'b0          // GB_FILE layout: 0 one pair a line, 1 one beat a line
) (
    input  logic                clk,
    input  logic                rst_n,
    input  logic [C*IN_W-1:0]   s_axis_tdata,    // token x (lane i = channel i)
    input  logic                s_axis_tvalid,
    output logic                s_axis_tready,
    input  logic                s_axis_tlast,    // last token of the frame
    input  logic [USER_W-1:0]   s_axis_tuser,    // token kind
    output logic [C*OUT_W-1:0]  m_axis_tdata,    // token y
    output logic                m_axis_tvalid,
    input  logic                m_axis_tready,
    output logic                m_axis_tlast,
    output logic [USER_W-1:0]   m_axis_tuser
);
  localparam int P = C / LANES;                           // beats a token
  localparam int CI_W = (P > 1) ? $clog2(P) : 1;          // beat index
  localparam int RA_W = $clog2(C);                        // gamma / beta ROM address
  localparam int GB_W = BETA_W + G_W;
  localparam int SD = OVERLAP ? 8 : 4;                    // side FIFO depth
  localparam int SP_W = $clog2(SD);

  logic s_fire, m_fire;
  assign m_fire = m_axis_tvalid && m_axis_tready;

  // ---- side FIFO: {tuser, tlast} of the tokens in flight -----------------------------------------
  logic [USER_W:0] side_mem[SD];
  logic [SP_W:0] side_wp, side_rp;                        // one wrap bit
  logic side_full;
  assign side_full = (side_wp[SP_W] != side_rp[SP_W]) && (side_wp[SP_W-1:0] == side_rp[SP_W-1:0]);
  assign {m_axis_tuser, m_axis_tlast} = side_mem[side_rp[SP_W-1:0]];

  always_ff @(posedge clk) begin
    if (s_fire) begin
      side_mem[side_wp[SP_W-1:0]] <= {s_axis_tuser, s_axis_tlast};
    end
  end

  // ---- input register, LANES channels a cycle into the kernel -------------------------------------
  logic [C*IN_W-1:0] in_buf;
  logic in_full;
  logic [CI_W-1:0] ci;
  logic k_s_tready, k_s_fire, k_s_tlast;

  // the next token is taken in the cycle the last channel group of this one goes in
  assign s_axis_tready = (!in_full || (k_s_tready && k_s_tlast)) && !side_full;
  assign s_fire = s_axis_tvalid && s_axis_tready;
  assign k_s_fire = in_full && k_s_tready;
  assign k_s_tlast = (ci == CI_W'(P - 1));

  always_ff @(posedge clk) begin
    if (s_fire) begin
      in_buf <= s_axis_tdata;
    end
  end

  // ---- gamma / beta ROMs, one beat ahead of the kernel ----------------------------------------------
  logic [LANES*GB_W-1:0] gb_data;
  logic [CI_W-1:0] gb_addr;
  logic gb_valid, gb_ready, gb_en;
  assign gb_en = !gb_valid || gb_ready;

  if (GB_PACKED) begin : g_gb_packed
    spvit_rom #(
        .DEPTH(P),
        .DATA_W(LANES * GB_W),
        .ADDR_W(CI_W),
        .INIT_FILE(GB_FILE)
    ) u_gb (
        .clk(clk),
        .en(gb_en),
        .addr(gb_addr),
        .data(gb_data)
    );
  end else begin : g_gb_lines
    for (genvar l = 0; l < LANES; l++) begin : g_lane
      logic [RA_W-1:0] rom_addr;
      assign rom_addr = RA_W'(32'(gb_addr) * LANES + l);
      spvit_rom #(
          .DEPTH(C),
          .DATA_W(GB_W),
          .ADDR_W(RA_W),
          .INIT_FILE(GB_FILE)
      ) u_gb (
          .clk(clk),
          .en(gb_en),
          .addr(rom_addr),
          .data(gb_data[l*GB_W+:GB_W])
      );
    end
  end

  // ---- the kernel ----------------------------------------------------------------------------------
  logic [LANES*OUT_W-1:0] k_m_tdata;
  logic k_m_tvalid, k_m_tready, k_m_tlast, k_m_fire;

  spvit_layernorm #(
      .C(C),
      .IN_W(IN_W),
      .SUM_W(SUM_W),
      .DEV_W(DEV_W),
      .VAR_W(VAR_W),
      .EPS_INT(EPS_INT),
      .M(M),
      .T_W(T_W),
      .R(R),
      .RSQRT_FILE(RSQRT_FILE),
      .NORM_W(NORM_W),
      .NORM_FRAC(NORM_FRAC),
      .G_W(G_W),
      .BETA_W(BETA_W),
      .OUT_SHIFT(OUT_SHIFT),
      .OUT_W(OUT_W),
      .OUT_SIGNED(OUT_SIGNED),
      .LANES(LANES),
      .OVERLAP(OVERLAP)
  ) u_ln (
      .clk(clk),
      .rst_n(rst_n),
      .s_axis_tdata(in_buf[ci*LANES*IN_W+:LANES*IN_W]),
      .s_axis_tvalid(in_full),
      .s_axis_tready(k_s_tready),
      .s_axis_tlast(k_s_tlast),
      .s_axis_gb_tdata(gb_data),
      .s_axis_gb_tvalid(gb_valid),
      .s_axis_gb_tready(gb_ready),
      .m_axis_tdata(k_m_tdata),
      .m_axis_tvalid(k_m_tvalid),
      .m_axis_tready(k_m_tready),
      .m_axis_tlast(k_m_tlast)
  );

  // ---- gather the output beats ------------------------------------------------------------------
  logic [CI_W-1:0] co;
  assign k_m_tready = !m_axis_tvalid || m_axis_tready;  // a leaving token frees the register
  assign k_m_fire = k_m_tvalid && k_m_tready;

  always_ff @(posedge clk) begin
    if (k_m_fire) begin
      m_axis_tdata[co*LANES*OUT_W+:LANES*OUT_W] <= k_m_tdata;
    end
  end

  // ---- control -------------------------------------------------------------------------------------
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      side_wp <= '0;
      side_rp <= '0;
      in_full <= 1'b0;
      ci <= '0;
      gb_valid <= 1'b0;
      gb_addr <= '0;
      co <= '0;
      m_axis_tvalid <= 1'b0;
    end else begin
      if (s_fire) begin
        side_wp <= side_wp + 1'b1;
      end
      if (m_fire) begin
        side_rp <= side_rp + 1'b1;
        m_axis_tvalid <= 1'b0;
      end
      if (k_s_fire) begin
        ci <= k_s_tlast ? '0 : ci + 1'b1;
        if (k_s_tlast) begin
          in_full <= 1'b0;
        end
      end
      if (s_fire) begin
        in_full <= 1'b1;                                  // after the clear: reloaded
      end
      if (gb_en) begin
        gb_valid <= 1'b1;
        gb_addr <= (gb_addr == CI_W'(P - 1)) ? '0 : gb_addr + 1'b1;
      end
      if (k_m_fire) begin
        co <= k_m_tlast ? '0 : co + 1'b1;
        if (k_m_tlast) begin
          m_axis_tvalid <= 1'b1;
        end
      end
    end
  end
endmodule
