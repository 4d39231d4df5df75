// spvit_head_mean_tok: spvit_head_mean on token streams (rtl/DATAFLOW.md "Token streams").
//
//   u_j[h] = sat_out( RNE(sum_{c in head h} x_jc * 2^UP / DH) )   (intops.int_head_mean)
//
// Input: one token a beat, C lanes of IN_W bits (signed), tuser (USER_W bits, the token kind),
// tlast (last token of the frame).  Output: one beat a token, H lanes of OUT_W bits (u[h] at
// [h*OUT_W +: OUT_W], the kernel's output beat), with the token's tuser and tlast.
// The token is held in an input register and fed to spvit_head_mean in C/LANES beats of LANES
// channels (tlast on the last one); the kernel's output beat is the output (its tlast is the
// token's); tuser waits in an 8-entry side FIFO (pushed when a token is accepted, popped when its
// output beat leaves), which also bounds the tokens in flight.
// Cycles without stalls (checked by rtl_sim/tb_tokwrap.py), with D = ceil(Q_W/DIV_STEPS) + 1
// (Q_W = IN_W + max(UP, 0)): the kernel's rate, one token every max(C/LANES, H*max(DH/LANES, D))
// cycles (the input register is reloaded in the cycle its last beat goes in); T tokens back to
// back take T*max(C/LANES, H*max(DH/LANES, D)) + D cycles from the first input beat to the last
// output beat.
// Preconditions: those of spvit_head_mean (H divides C, LANES divides C/H).
module spvit_head_mean_tok #(
    parameter int C          = 64,     // channels per token
    parameter int H          = 4,      // heads (H divides C)
    parameter int LANES      = 4,      // channels per kernel beat (LANES divides C/H)
    parameter int IN_W       = 16,     // input width (signed)
    parameter int UP         = 0,      // f_out - f_in
    parameter int OUT_W      = 8,      // output width
    parameter bit OUT_SIGNED = 1'b1,   // output format signed (else unsigned: negatives -> 0)
    parameter int DIV_STEPS  = 3,      // divider quotient bits per cycle
    parameter int USER_W     = 2       // tuser width (token kind)
) (
    input  logic               clk,
    input  logic               rst_n,
    input  logic [C*IN_W-1:0]  s_axis_tdata,    // token x
    input  logic               s_axis_tvalid,
    output logic               s_axis_tready,
    input  logic               s_axis_tlast,    // last token of the frame
    input  logic [USER_W-1:0]  s_axis_tuser,    // token kind
    output logic [H*OUT_W-1:0] m_axis_tdata,    // u[H]
    output logic               m_axis_tvalid,
    input  logic               m_axis_tready,
    output logic               m_axis_tlast,
    output logic [USER_W-1:0]  m_axis_tuser
);
  localparam int BPT = C / LANES;                         // kernel beats per token
  localparam int B_W = (BPT > 1) ? $clog2(BPT) : 1;
  localparam int SD = 8;                                  // side FIFO depth
  localparam int SP_W = $clog2(SD);

  logic s_fire, m_fire;
  assign m_fire = m_axis_tvalid && m_axis_tready;

  // ---- side FIFO: tuser of the tokens in flight --------------------------------------------------
  logic [USER_W-1:0] side_mem[SD];
  logic [SP_W:0] side_wp, side_rp;                        // one wrap bit
  logic side_full;
  assign side_full = (side_wp[SP_W] != side_rp[SP_W]) && (side_wp[SP_W-1:0] == side_rp[SP_W-1:0]);
  assign m_axis_tuser = side_mem[side_rp[SP_W-1:0]];

  always_ff @(posedge clk) begin
    if (s_fire) begin
      side_mem[side_wp[SP_W-1:0]] <= s_axis_tuser;
    end
  end

  // ---- input register, LANES channels a beat into the kernel ---------------------------------------
  logic [C*IN_W-1:0] in_buf;
  logic in_full, in_last;
  logic [B_W-1:0] bi;
  logic k_s_tready, k_s_fire, k_s_end;

  // the next token is taken in the cycle the last channel group of this one goes in
  assign s_axis_tready = (!in_full || (k_s_tready && k_s_end)) && !side_full;
  assign s_fire = s_axis_tvalid && s_axis_tready;
  assign k_s_fire = in_full && k_s_tready;
  assign k_s_end = (bi == B_W'(BPT - 1));

  always_ff @(posedge clk) begin
    if (s_fire) begin
      in_buf <= s_axis_tdata;
      in_last <= s_axis_tlast;
    end
  end

  spvit_head_mean #(
      .C(C),
      .H(H),
      .LANES(LANES),
      .IN_W(IN_W),
      .UP(UP),
      .OUT_W(OUT_W),
      .OUT_SIGNED(OUT_SIGNED),
      .DIV_STEPS(DIV_STEPS)
  ) u_hm (
      .clk(clk),
      .rst_n(rst_n),
      .s_axis_tdata(in_buf[bi*LANES*IN_W+:LANES*IN_W]),
      .s_axis_tvalid(in_full),
      .s_axis_tready(k_s_tready),
      .s_axis_tlast(in_last && k_s_end),
      .m_axis_tdata(m_axis_tdata),
      .m_axis_tvalid(m_axis_tvalid),
      .m_axis_tready(m_axis_tready),
      .m_axis_tlast(m_axis_tlast)
  );

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      side_wp <= '0;
      side_rp <= '0;
      in_full <= 1'b0;
      bi <= '0;
    end else begin
      if (s_fire) begin
        side_wp <= side_wp + 1'b1;
      end
      if (m_fire) begin
        side_rp <= side_rp + 1'b1;
      end
      if (k_s_fire) begin
        bi <= k_s_end ? '0 : bi + 1'b1;
        if (k_s_end) begin
          in_full <= 1'b0;
        end
      end
      if (s_fire) begin
        in_full <= 1'b1;                                  // after the clear: reloaded
      end
    end
  end
endmodule
