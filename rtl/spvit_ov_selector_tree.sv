// spvit_ov_selector_tree: registered adder tree, the sum of N_IN signed lanes, one adder level a
// pipeline stage (the overlay selector unit's lane sums and its top-k rank popcount).
//
//   out_sum = sum_i in_data[i*IN_W +: IN_W]        (exact: IN_W + log2(N_IN) bits, signed)
//
// A new input every cycle; out_v / out_sum / out_tag appear log2(N_IN) cycles after in_v.
// busy is high while any input is inside the tree.
// Precondition: N_IN a power of two >= 2.
module spvit_ov_selector_tree #(
    parameter int N_IN  = 8,     // lanes (power of two >= 2)
    parameter int IN_W  = 16,    // lane width (signed)
    parameter int TAG_W = 1,     // side information carried along
    parameter int OUT_W = IN_W + $clog2(N_IN)
) (
    input  logic                  clk,
    input  logic                  rst_n,
    input  logic                  in_v,
    input  logic [N_IN*IN_W-1:0]  in_data,   // lane i at [i*IN_W +: IN_W]
    input  logic [TAG_W-1:0]      in_tag,
    output logic                  out_v,
    output logic [OUT_W-1:0]      out_sum,
    output logic [TAG_W-1:0]      out_tag,
    output logic                  busy
);
  localparam int LV = $clog2(N_IN);

  // level k (0..LV-1) holds N_IN >> (k+1) sums, kept at the full output width
  logic [LV-1:0][N_IN-1:0][OUT_W-1:0] lvl;
  logic [LV-1:0] v;
  logic [LV-1:0][TAG_W-1:0] tag;
  logic [N_IN-1:0][OUT_W-1:0] in_ext;

  always_comb begin : p_ext
    for (int i = 0; i < N_IN; i++) begin
      in_ext[i] = OUT_W'($signed(in_data[i*IN_W+:IN_W]));
    end
  end

  // chains: the inputs followed by the registered levels
  logic [LV:0][N_IN-1:0][OUT_W-1:0] ch;
  logic [LV:0] v_ch;
  logic [LV:0][TAG_W-1:0] tag_ch;
  assign ch = {lvl, in_ext};
  assign v_ch = {v, in_v};
  assign tag_ch = {tag, in_tag};

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      v <= '0;
    end else begin
      v <= v_ch[LV-1:0];
    end
  end

  always_ff @(posedge clk) begin
    for (int k = 0; k < LV; k++) begin
      for (int i = 0; i < N_IN; i++) begin
        if (2 * i + 1 < (N_IN >> k)) begin
          lvl[k][i] <= ch[k][2*i] + ch[k][2*i+1];
        end else begin
          lvl[k][i] <= '0;   // no sum at this position of the level
        end
      end
    end
    tag <= tag_ch[LV-1:0];
  end

  assign out_v = v_ch[LV];
  assign out_sum = ch[LV][0];
  assign out_tag = tag_ch[LV];
  assign busy = |v;

  // positions of a level beyond its N_IN >> (k+1) sums are constant zero and never read
  logic unused_ok;
  assign unused_ok = ^ch;
endmodule
