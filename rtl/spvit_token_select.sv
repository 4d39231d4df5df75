// spvit_token_select: streaming token selection and package-token merge of one selector stage
// (intops.keep_decision + intops.int_package_token; docs/integer_arithmetic.md section 5).
//
// Input frame (s_axis, C/LANES beats a token, tuser = token kind on every beat of a token,
// tlast on the last beat of the frame):  the class token, the live patch tokens, the package
// tokens of earlier stages — any number of each up to the maxima, in any order.  For every
// patch token one beat on s_axis_sel = {p, delta[H], w[H]} (taken with the token's first beat):
//   keep_j = (sum_h w_h * delta_h >= tau)                        (spvit_keep_decision)
// Output frame (m_axis, same format): every input token except the pruned patch tokens, in input
// order (class token, kept patch tokens, earlier package tokens), then the new package token
//   pkg_c = RNE(sum_pruned p_j x_jc / sum_pruned p_j)   if sum p > 0
//         = RNE(sum_pruned x_jc / n_pruned)             if sum p == 0 and n_pruned > 0
//         = 0                                           if nothing was pruned
// (kind PKG, tlast on its last beat).  The package token is always emitted.
//
// Two passes over a frame buffer (T_MAX x C values, synchronous read): pass 1 stores the frame,
// decides, and accumulates the pruned tokens (per channel: sum p*x, sum x); pass 2 replays the
// kept tokens while LANES sequential dividers compute the package token, which follows.  The
// token count is data-dependent (0..N_MAX patch tokens); n_kept reports the last frame's kept
// patch tokens.  Cycles per frame of T tokens of which K are emitted (class, kept patches,
// earlier packages), B = C/LANES, without stalls (checked by rtl_sim/tb_token_select.py):
//   T*B  +  max(K*B + (T - K) + B,  B*(ceil(X_W/DIV_STEPS) + 1) + 2)  +  1
// (receive; then replay with one cycle per skipped token, and the package token, whose
// division runs during the replay).
// Preconditions: a frame holds at most 1 + N_MAX + PKG_MAX tokens, the kind is constant over a
// token's beats, tlast comes on a token's last beat; tau is read on each patch token's first beat.
module spvit_token_select #(
    parameter int C         = 64,          // channels per token
    parameter int LANES     = 8,           // channels per beat (C % LANES == 0)
    parameter int X_W       = 16,          // token value width (residual stream, signed)
    parameter int N_MAX     = 16,          // most patch tokens in a frame
    parameter int PKG_MAX   = 3,           // most earlier package tokens in a frame
    parameter int H         = 4,           // heads
    parameter int W_W       = 8,           // head weight width (unsigned)
    parameter int D_W       = 8,           // logit difference width (signed)
    parameter int Z_W       = 18,          // keep_decision_bits(W, D, H)
    parameter int P_W       = 8,           // keep probability width (unsigned)
    parameter int DIV_STEPS = 2            // divider quotient bits per cycle
) (
    input  logic                         clk,
    input  logic                         rst_n,
    input  logic [Z_W-1:0]               tau,             // keep threshold (per stage)
    // tokens
    input  logic [LANES*X_W-1:0]         s_axis_tdata,
    input  logic                         s_axis_tvalid,
    output logic                         s_axis_tready,
    input  logic                         s_axis_tlast,    // last beat of the frame
    input  logic [1:0]                   s_axis_tuser,    // kind: 0 class, 1 patch, 2 package
    // selector outputs, one beat per patch token
    input  logic [P_W+H*(D_W+W_W)-1:0]   s_axis_sel_tdata, // {p, delta[H], w[H]}
    input  logic                         s_axis_sel_tvalid,
    output logic                         s_axis_sel_tready,
    // tokens out
    output logic [LANES*X_W-1:0]         m_axis_tdata,
    output logic                         m_axis_tvalid,
    input  logic                         m_axis_tready,
    output logic                         m_axis_tlast,
    output logic [1:0]                   m_axis_tuser,
    // status
    output logic [$clog2(N_MAX+1)-1:0]   n_kept           // kept patch tokens, last frame
);
  // token kinds (tuser): 0 class, 1 patch, 2 package
  localparam logic [1:0] KIND_PATCH = 2'd1;
  localparam logic [1:0] KIND_PKG = 2'd2;

  localparam int BPT = C / LANES;                         // beats per token
  localparam int T_MAX = 1 + N_MAX + PKG_MAX;             // tokens in a frame
  localparam int DEPTH = T_MAX * BPT;                     // frame buffer words
  localparam int FA_W = $clog2(DEPTH);                    // frame buffer address
  localparam int T_W = $clog2(T_MAX + 1);                 // token counter
  localparam int TI_W = (T_MAX > 1) ? $clog2(T_MAX) : 1;  // token index
  localparam int B_W = (BPT > 1) ? $clog2(BPT) : 1;       // beat-in-token counter
  localparam int N_W = $clog2(N_MAX + 1);                 // pruned / kept counters
  localparam int A_W = X_W + P_W + N_W + 1;               // sum p*x (signed)
  localparam int XS_W = X_W + N_W;                        // sum x (signed)
  localparam int PS_W = P_W + N_W;                        // sum p (unsigned)
  localparam int DIV_OUT_W = X_W + 2;

  typedef enum logic {
    RECV,
    OUT
  } state_t;
  state_t state;

  // ---- pass 1: receive, decide, accumulate -----------------------------------------------------
  logic [LANES*X_W-1:0] fbuf[DEPTH];
  logic [1:0] kind_tok[T_MAX];
  logic keep_tok[T_MAX];
  logic [T_W-1:0] tok, n_tok;
  logic [B_W-1:0] bt;
  logic [FA_W-1:0] waddr;
  logic need_sel, recv_fire, token_end;
  logic keep_now;
  logic [Z_W-1:0] z_unused;
  logic [P_W-1:0] p_sel, p_r, p_eff;
  logic pruned_r, pruned_eff, first_r, first_eff;
  logic [PS_W-1:0] p_sum;
  logic [N_W-1:0] n_pruned, n_kept_cnt;
  // per-channel sums over the pruned tokens, one word (LANES channels) per beat of a token:
  // distributed RAM (one write port, asynchronous reads for the update and for the dividers)
  logic [LANES*A_W-1:0] acc_px[BPT];
  logic [LANES*XS_W-1:0] acc_x[BPT];
  logic [LANES*A_W-1:0] acc_px_rd, acc_px_new;
  logic [LANES*XS_W-1:0] acc_x_rd, acc_x_new;

  assign need_sel = (bt == '0) && (s_axis_tuser == KIND_PATCH);
  assign s_axis_tready = (state == RECV) && (!need_sel || s_axis_sel_tvalid);
  assign s_axis_sel_tready = (state == RECV) && s_axis_tvalid && need_sel;
  assign recv_fire = s_axis_tvalid && s_axis_tready;
  assign token_end = (bt == B_W'(BPT - 1));
  assign p_sel = s_axis_sel_tdata[H*(D_W+W_W)+:P_W];

  spvit_keep_decision #(
      .H(H),
      .W_W(W_W),
      .D_W(D_W),
      .Z_W(Z_W)
  ) u_keep (
      .w(s_axis_sel_tdata[H*W_W-1:0]),
      .delta(s_axis_sel_tdata[H*(D_W+W_W)-1:H*W_W]),
      .tau(tau),
      .z(z_unused),
      .keep(keep_now)
  );

  // values for this beat: decided on a token's first beat (from the selector beat for a patch
  // token), latched for its other beats
  logic first_beat;
  assign first_beat = (bt == '0);
  assign pruned_eff = first_beat ? (need_sel && !keep_now) : pruned_r;
  assign p_eff = first_beat ? p_sel : p_r;
  assign first_eff = first_beat ? (n_pruned == '0) : first_r;  // first pruned token: overwrite

  always_ff @(posedge clk) begin
    if (recv_fire) begin
      fbuf[waddr] <= s_axis_tdata;
      if (first_beat) begin
        kind_tok[TI_W'(tok)] <= s_axis_tuser;
        keep_tok[TI_W'(tok)] <= !need_sel || keep_now;
        pruned_r <= need_sel && !keep_now;
        p_r <= p_sel;
        first_r <= (n_pruned == '0);
      end
      if (pruned_eff) begin
        acc_px[bt] <= acc_px_new;
        acc_x[bt] <= acc_x_new;
      end
    end
  end

  assign acc_px_rd = acc_px[bt];
  assign acc_x_rd = acc_x[bt];
  for (genvar l = 0; l < LANES; l++) begin : g_acc
    logic signed [X_W-1:0] xl;
    logic signed [A_W-1:0] px_old;
    logic signed [XS_W-1:0] x_old;
    assign xl = s_axis_tdata[l*X_W+:X_W];
    assign px_old = first_eff ? '0 : acc_px_rd[l*A_W+:A_W];
    assign x_old = first_eff ? '0 : acc_x_rd[l*XS_W+:XS_W];
    assign acc_px_new[l*A_W+:A_W] = px_old + A_W'($signed({1'b0, p_eff})) * A_W'(xl);
    assign acc_x_new[l*XS_W+:XS_W] = x_old + XS_W'(xl);
  end

  // ---- pass 2: replay kept tokens, then the package token ---------------------------------------
  logic [T_W-1:0] rtok;
  logic [B_W-1:0] rbt;
  logic [FA_W-1:0] raddr;
  logic [B_W:0] pb;                                       // package beats emitted
  logic [B_W:0] div_issued, div_done;                     // package beats sent to / back from dividers
  logic replay_done, adv, skip, emit_tok, emit_pkg, out_fire, frame_done;
  logic [LANES*X_W-1:0] fb_q;                             // frame buffer read register
  logic [LANES*X_W-1:0] pkg_buf[BPT];
  logic [LANES*X_W-1:0] pkg_q;
  logic is_pkg_q;

  assign replay_done = (rtok == n_tok);
  assign adv = !m_axis_tvalid || m_axis_tready;
  assign skip = (state == OUT) && adv && !replay_done && !keep_tok[TI_W'(rtok)];
  assign emit_tok = (state == OUT) && adv && !replay_done && keep_tok[TI_W'(rtok)];
  assign emit_pkg = (state == OUT) && adv && replay_done && (pb != (B_W + 1)'(BPT)) && (pb < div_done);
  assign out_fire = m_axis_tvalid && m_axis_tready;
  assign frame_done = out_fire && m_axis_tlast;

  always_ff @(posedge clk) begin
    if (emit_tok) begin
      fb_q <= fbuf[raddr];
      m_axis_tuser <= kind_tok[TI_W'(rtok)];
    end else if (emit_pkg) begin
      m_axis_tuser <= KIND_PKG;
    end
    if (emit_pkg) begin
      pkg_q <= pkg_buf[pb[B_W-1:0]];
      m_axis_tlast <= (pb == (B_W + 1)'(BPT - 1));
    end else if (emit_tok) begin
      m_axis_tlast <= 1'b0;
    end
    if (emit_tok || emit_pkg) begin
      is_pkg_q <= emit_pkg;
    end
  end
  assign m_axis_tdata = is_pkg_q ? pkg_q : fb_q;

  // ---- package token: LANES dividers, one beat of channels at a time --------------------------
  logic use_weights;                                      // sum p > 0
  logic any_pruned;
  logic div_in_valid, div_in_ready, div_out_valid;
  logic [LANES-1:0] div_in_ready_l, div_out_valid_l;
  logic [LANES*DIV_OUT_W-1:0] div_q;
  logic [LANES*X_W-1:0] div_q_x;
  logic [B_W-1:0] dbt;
  logic [LANES-1:0] div_last_unused, div_user_unused;

  assign use_weights = (p_sum != '0);
  assign any_pruned = (n_pruned != '0);
  assign dbt = div_issued[B_W-1:0];
  logic [LANES*A_W-1:0] div_px_word;
  logic [LANES*XS_W-1:0] div_x_word;
  assign div_px_word = acc_px[dbt];
  assign div_x_word = acc_x[dbt];
  assign div_in_valid = (state == OUT) && (div_issued != (B_W + 1)'(BPT));
  assign div_in_ready = div_in_ready_l[0];                // the dividers run in lock-step
  assign div_out_valid = div_out_valid_l[0];

  for (genvar l = 0; l < LANES; l++) begin : g_div
    logic signed [A_W-1:0] num;
    logic [PS_W-1:0] den;
    assign num = !any_pruned ? '0 : (use_weights ? div_px_word[l*A_W+:A_W]
                                                  : A_W'($signed(div_x_word[l*XS_W+:XS_W])));
    assign den = use_weights ? p_sum : (any_pruned ? PS_W'(n_pruned) : PS_W'(1));
    spvit_divider #(
        .NUM_W(A_W),
        .SIGNED(1'b1),
        .DEN_W(PS_W),
        .Q_W(X_W),
        .STEPS(DIV_STEPS),
        .USER_W(1)
    ) u_div (
        .clk(clk),
        .rst_n(rst_n),
        .s_axis_tdata({den, num}),
        .s_axis_tvalid(div_in_valid),
        .s_axis_tready(div_in_ready_l[l]),
        .s_axis_tlast(1'b0),
        .s_axis_tuser(1'b0),
        .m_axis_tdata(div_q[l*DIV_OUT_W+:DIV_OUT_W]),
        .m_axis_tvalid(div_out_valid_l[l]),
        .m_axis_tready(1'b1),
        .m_axis_tlast(div_last_unused[l]),
        .m_axis_tuser(div_user_unused[l])
    );
    // a rounded convex combination of X_W-bit values: no saturation needed
    assign div_q_x[l*X_W+:X_W] = div_q[l*DIV_OUT_W+:X_W];
  end

  always_ff @(posedge clk) begin
    if (div_out_valid) begin
      pkg_buf[div_done[B_W-1:0]] <= div_q_x;
    end
  end

  // ---- control ----------------------------------------------------------------------------------
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      state <= RECV;
      tok <= '0;
      bt <= '0;
      waddr <= '0;
      p_sum <= '0;
      n_pruned <= '0;
      n_kept_cnt <= '0;
      n_kept <= '0;
      m_axis_tvalid <= 1'b0;
    end else begin
      if (adv) begin
        m_axis_tvalid <= emit_tok || emit_pkg;
      end
      unique case (state)
        RECV: begin
          if (recv_fire) begin
            waddr <= waddr + 1'b1;
            bt <= token_end ? '0 : bt + 1'b1;
            if (token_end) begin
              tok <= tok + 1'b1;
            end
            if (need_sel) begin
              if (keep_now) begin
                n_kept_cnt <= n_kept_cnt + 1'b1;
              end else begin
                n_pruned <= n_pruned + 1'b1;
                p_sum <= p_sum + PS_W'(p_sel);
              end
            end
            if (s_axis_tlast) begin
              state <= OUT;
              n_tok <= tok + 1'b1;
              n_kept <= n_kept_cnt + N_W'(need_sel && keep_now);
            end
          end
        end
        OUT: begin
          if (frame_done) begin
            state <= RECV;
            tok <= '0;
            bt <= '0;
            waddr <= '0;
            p_sum <= '0;
            n_pruned <= '0;
            n_kept_cnt <= '0;
          end
        end
        default: state <= RECV;
      endcase
    end
  end

  always_ff @(posedge clk) begin
    if (state == RECV) begin
      rtok <= '0;
      rbt <= '0;
      raddr <= '0;
      pb <= '0;
      div_issued <= '0;
      div_done <= '0;
    end else begin
      if (skip) begin
        rtok <= rtok + 1'b1;
        raddr <= raddr + FA_W'(BPT);
      end
      if (emit_tok) begin
        raddr <= raddr + 1'b1;
        rbt <= (rbt == B_W'(BPT - 1)) ? '0 : rbt + 1'b1;
        if (rbt == B_W'(BPT - 1)) begin
          rtok <= rtok + 1'b1;
        end
      end
      if (emit_pkg) begin
        pb <= pb + 1'b1;
      end
      if (div_in_valid && div_in_ready) begin
        div_issued <= div_issued + 1'b1;
      end
      if (div_out_valid) begin
        div_done <= div_done + 1'b1;
      end
    end
  end

  logic unused_ok;
  assign unused_ok = &{1'b0, z_unused, div_in_ready_l, div_out_valid_l, div_last_unused,
                       div_user_unused, div_q};
endmodule
