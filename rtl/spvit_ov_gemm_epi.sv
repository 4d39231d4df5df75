// spvit_ov_gemm_epi: one output lane of the overlay GEMM epilogue (intops.int_linear's
// bias / residual / requantise, then intops.table_lookup), eight registered stages.
//
//   E1  vb  = acc + (bias_en ? bias : 0);      rx = res_en ? sext(res) : 0
//   E2  sh  = (a_acc ? vb : rx) << a_amt;      ot = a_acc ? rx : vb        (one shifter: a >= 0
//       shifts the residual, a < 0 the accumulator)
//   E3  v   = sh + ot                          (a >= 0: acc + b + (r << a); a < 0: ((acc + b) << -a) + r)
//   E4  q   = v >>> s,  rb = v[s-1] (s >= 1),  st_g = |v[s-2:0] in 3-bit groups (s = shift - min(a, 0))
//   E5  y   = q + (rb & (|st_g | q[0]))        (round half to even; y = 0 when s >= ACC_W)
//   E6  ys  = raw ? y : clamp(y, min_v, max_v) (intops.saturate to the output format)
//   E7  idx = (ys ^ tbl_flip) & tbl_mask       (y - min_int of the table's input format)
//   E8  out = tbl_en ? ext(table[idx]) : ys    (ext: sign- or zero-extension by tbl_os)
//
// All sums are modulo 2^ACC_W; the generator proves (ir.linear_acc_bits) that the exact value of
// v fits ACC_W bits, so every intermediate is exact where it matters.  acc / bias / res are
// presented in cycle t; out is the register valid in cycle t + 8.  The static inputs are
// instruction constants (the caller registers them at the start of the instruction).
//
// Table: 2^TBL_BITS entries of 8 bits in TBL_G banks of distributed RAM (TBL_G entries written a
// cycle: tw_addr is the group index, entry tw_addr*TBL_G + i = byte i of tw_data); read as the
// word idx / TBL_G and the byte idx % TBL_G.  Preconditions: 1 <= TBL_G <= 2^TBL_BITS, both
// powers of two; ACC_W >= 17.
module spvit_ov_gemm_epi #(
    parameter int ACC_W    = 32,  // accumulator / epilogue width
    parameter int X_W      = 16,  // residual lane width
    parameter int TBL_BITS = 8,   // table index bits (table depth 2^TBL_BITS)
    parameter int TBL_G    = 8,   // table entries written a cycle
    localparam int SH_W = $clog2(ACC_W),
    localparam int GB = $clog2(TBL_G),
    localparam int TA_W = (TBL_BITS > GB) ? TBL_BITS - GB : 1
) (
    input  logic                     clk,
    // instruction constants
    input  logic                     bias_en,   // add the bias
    input  logic                     res_en,    // add the residual
    input  logic [4:0]               a_amt,     // |align| (0 without a residual)
    input  logic                     a_acc,     // align < 0: shift the accumulator, else the residual
    input  logic [SH_W-1:0]          sh,        // floor shift s (s < ACC_W)
    input  logic                     rnd_en,    // 1 <= s < ACC_W: rounding applies
    input  logic [SH_W-1:0]          rb_pos,    // s - 1
    input  logic [ACC_W-1:0]         st_mask,   // bits s-2..0 set (sticky bits)
    input  logic                     zero_out,  // s >= ACC_W: the quotient is 0
    input  logic                     raw,       // no saturation (raw accumulator result)
    input  logic signed [ACC_W-1:0]  min_v,     // output format range
    input  logic signed [ACC_W-1:0]  max_v,
    input  logic                     tbl_en,    // apply the table
    input  logic                     tbl_os,    // table entries signed
    input  logic [TBL_BITS-1:0]      tbl_flip,  // sign bit of the table input (signed input), else 0
    input  logic [TBL_BITS-1:0]      tbl_mask,  // 2^in_bits - 1
    // table write
    input  logic                     tw_en,
    input  logic [TA_W-1:0]          tw_addr,
    input  logic [TBL_G*8-1:0]       tw_data,
    // data
    input  logic [ACC_W-1:0]         acc,       // accumulator (cycle t)
    input  logic [ACC_W-1:0]         bias,      // bias (cycle t)
    input  logic [X_W-1:0]           res,       // residual lane (cycle t)
    output logic [ACC_W-1:0]         out        // result (register, cycle t + 8)
);
  localparam int TD = (1 << TBL_BITS) / TBL_G;  // table words

  logic [ACC_W-1:0] vb, rx, sh2, ot2, v, q;
  localparam int NG3 = (ACC_W + 2) / 3;  // sticky groups of 3 bits (one LUT6 each)
  logic rb;
  logic [NG3-1:0] st_g;
  logic [3*NG3-1:0] v_st;
  assign v_st = (3 * NG3)'(v & st_mask);
  logic signed [ACC_W-1:0] y, ys, ys7;
  logic [TBL_BITS-1:0] idx;

  always_ff @(posedge clk) begin
    // E1
    vb  <= acc + (bias_en ? bias : '0);
    rx  <= res_en ? ACC_W'($signed(res)) : '0;
    // E2
    sh2 <= (a_acc ? vb : rx) << a_amt;
    ot2 <= a_acc ? rx : vb;
    // E3
    v   <= sh2 + ot2;
    // E4
    q   <= zero_out ? '0 : ACC_W'($signed(v) >>> sh);
    rb  <= rnd_en && v[rb_pos];
    for (int g = 0; g < NG3; g++) begin
      st_g[g] <= |v_st[3*g+:3];
    end
    // E5
    y   <= $signed(q) + $signed(ACC_W'(rb && (|st_g || q[0])));
    // E6
    if (raw) begin
      ys <= y;
    end else if (y < min_v) begin
      ys <= min_v;
    end else if (y > max_v) begin
      ys <= max_v;
    end else begin
      ys <= y;
    end
    // E7
    idx <= (ys[TBL_BITS-1:0] ^ tbl_flip) & tbl_mask;
    ys7 <= ys;
  end

  // ---- table (distributed RAM, TBL_G entries a word) ---------------------------------------
  logic [TBL_G*8-1:0] tmem[TD];
  logic [TBL_G*8-1:0] tword;
  logic [7:0] tval;

  always_ff @(posedge clk) begin
    if (tw_en) begin
      tmem[tw_addr] <= tw_data;
    end
  end

  if (TBL_BITS > GB) begin : g_words
    assign tword = tmem[idx[TBL_BITS-1:GB]];
  end else begin : g_one_word
    assign tword = tmem[0];
  end
  if (GB > 0) begin : g_bytesel
    assign tval = tword[idx[GB-1:0]*8+:8];
  end else begin : g_byte0
    assign tval = tword[7:0];
  end

  // E8
  always_ff @(posedge clk) begin
    if (tbl_en) begin
      out <= tbl_os ? ACC_W'($signed(tval)) : ACC_W'(tval);
    end else begin
      out <= ys7;
    end
  end
endmodule
