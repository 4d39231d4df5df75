// spvit_ov_ctrl: the overlay engine's sequencer.  Runs the layer program (a ROM of IW-bit
// instruction words written by spvit_fpga/hw/overlay/program.py, field layout `field_layout()`)
// once per image, one instruction at a time.
//
// Per instruction: read the word (2 cycles), evaluate its three counts from the run-time registers
// (1 cycle), pulse the start of the unit its opcode names (unit_start[op]) with the word and the
// counts held steady until the unit's done pulse, then go on with the next word.  The registers:
//   T = tokens in the residual buffer (1 + N_PATCH at the start of an image), N = live patch tokens
//   (N_PATCH at the start), KEPT[s] = patch tokens kept by stage s; the selector unit's done pulse of
//   a SELECT instruction carries the new N and T (sel_n, sel_t), which are written into the registers
//   and into KEPT[stage].
// A count field triple (reg, scale, off) is  reg*scale + off  with reg 0 = const (0), 1 = T, 2 = N;
// for the k and n counts the controller also gives the number of L-lane chunks and the lanes of the
// last chunk: chunks = ceil(v / L), last = v - (chunks - 1) * L  (v >= 1).
//
// Image protocol: `start` (pulse) while idle starts an image at pc 0 (the param-stream fetch is
// started with it: fetch_start); the RESULT instruction is the last; its unit's done ends the image
// with a `done` pulse, after which the controller is idle again.  `cycles` counts the cycles of the
// last image.  Under `ifdef SPVIT_PROBES` the cycle at which each instruction started is kept in
// probe_start[pc] for the simulation's per-instruction figures.
//
// Cycles: an instruction costs its unit's cycles plus 6 (ROM read 2, count operands 1, counts 1,
// chunks 1, start 1).
module spvit_ov_ctrl #(
    parameter int IW        = 457,            // instruction bits
    parameter int PROG_LEN  = 16,             // instructions
    parameter     PROG_FILE = "program.hex",  // $readmemh, one IW-bit word a line
    parameter int L         = 8,              // array side (power of two)
    parameter int CNT_W     = 12,             // count width
    parameter int N_PATCH   = 64,             // patch tokens of an image
    parameter int STAGES    = 3,              // selector stages (>= 1 for the port widths)
    parameter int NUNITS    = 11,             // opcodes 1 .. NUNITS-1
    parameter int STAGE_LSB = 0,              // field `stage` of SELECT
    parameter int PC_W      = 4               // $clog2(PROG_LEN) (at least 1)
) (
    input  logic                     clk,
    input  logic                     rst_n,
    input  logic                     start,          // start an image (ignored while busy)
    output logic                     busy,
    output logic                     done,           // pulse: the image's results are out
    output logic                     fetch_start,    // pulse: start the param-stream fetch
    output logic [31:0]              cycles,         // cycles of the last image
    // the instruction being executed
    output logic [IW-1:0]            instr,
    output logic [3:0]               opcode,
    output logic [NUNITS-1:0]        unit_start,     // one pulse a instruction, bit = opcode
    input  logic [NUNITS-1:0]        unit_done,      // pulse from the unit of the running opcode
    output logic [CNT_W-1:0]         rows,
    output logic [CNT_W-1:0]         k_count,
    output logic [CNT_W-1:0]         k_chunks,
    output logic [CNT_W-1:0]         k_last,
    output logic [CNT_W-1:0]         n_count,
    output logic [CNT_W-1:0]         n_chunks,
    output logic [CNT_W-1:0]         n_last,
    // run-time registers
    output logic [CNT_W-1:0]         reg_t,
    output logic [CNT_W-1:0]         reg_n,
    output logic [STAGES*CNT_W-1:0]  kept,           // KEPT[s] at [s*CNT_W +: CNT_W]
    input  logic [CNT_W-1:0]         sel_n,          // with the selector's done
    input  logic [CNT_W-1:0]         sel_t,
    output logic [PC_W-1:0]          pc
);
  localparam int LOG2L = $clog2(L);
  localparam logic [3:0] OP_SELECT = 4'd9;
  localparam logic [3:0] OP_RESULT = 4'd10;

  logic [IW-1:0] rom [PROG_LEN];
`ifdef SPVIT_SIM
  // simulation: +SPVIT_PROGRAM=<file> replaces PROG_FILE at run time (one build runs any program of
  // the same length, e.g. another keep rule or other thresholds)
  initial begin : p_rom
    string path;
    if (!$value$plusargs("SPVIT_PROGRAM=%s", path)) path = PROG_FILE;
    $readmemh(path, rom);
  end
`else
  initial $readmemh(PROG_FILE, rom);
`endif

  typedef enum logic [2:0] {IDLE, READ0, READ1, MUL, COUNT, LAUNCH, WAIT} state_t;
  state_t state;
  logic [IW-1:0] q0;

  // count evaluation: reg*scale + off (reg 0 const, 1 T, 2 N) for the rows, k and n fields
  logic [CNT_W-1:0] c_rows, c_k, c_n;
  logic [CNT_W-1:0] c_base [3];
  logic [CNT_W+3:0] c_prod_q [3];  // base * scale, registered (MUL state); + off in COUNT
  logic [CNT_W-1:0] c_base_q [3];  // registered operands (READ1 state): the multiply has input,
  logic [3:0] c_scale_q [3];       // output registers only, as a DSP48E2 with A/B and P registers
  logic [11:0] c_off_q [3];
  logic [11:0] c_off [3];
  logic [3:0] c_scale [3];
  logic [1:0] c_reg [3];
  assign {c_reg[0], c_scale[0], c_off[0]} = {q0[5:4], q0[9:6], q0[21:10]};
  assign {c_reg[1], c_scale[1], c_off[1]} = {q0[23:22], q0[27:24], q0[39:28]};
  assign {c_reg[2], c_scale[2], c_off[2]} = {q0[41:40], q0[45:42], q0[57:46]};
  for (genvar i = 0; i < 3; i++) begin : g_count
    assign c_base[i] = (c_reg[i] == 2'd1) ? reg_t : (c_reg[i] == 2'd2) ? reg_n : '0;
    always_ff @(posedge clk) begin
      c_base_q[i] <= c_base[i];
      c_scale_q[i] <= c_scale[i];
      c_off_q[i] <= c_off[i];
      c_prod_q[i] <= (CNT_W + 4)'(c_base_q[i]) * (CNT_W + 4)'(c_scale_q[i]);  // the DSP's P register
    end
  end
  assign c_rows = c_prod_q[0][CNT_W-1:0] + CNT_W'(c_off_q[0]);
  assign c_k = c_prod_q[1][CNT_W-1:0] + CNT_W'(c_off_q[1]);
  assign c_n = c_prod_q[2][CNT_W-1:0] + CNT_W'(c_off_q[2]);

  // L-lane chunks of a count and the lanes of the last chunk (count >= 1)
  logic [CNT_W:0] k_round, n_round;
  /* verilator lint_off UNUSEDSIGNAL */
  logic [CNT_W-1:0] k_m1, n_m1;  // only the low log2(L) bits matter
  /* verilator lint_on UNUSEDSIGNAL */
  assign k_round = {1'b0, c_k} + (CNT_W + 1)'(L - 1);
  assign n_round = {1'b0, c_n} + (CNT_W + 1)'(L - 1);
  assign k_m1 = c_k - 1'b1;
  assign n_m1 = c_n - 1'b1;

`ifdef SPVIT_PROBES
  logic [31:0] probe_start [PROG_LEN] /* verilator public */;
`endif

  logic [2:0] stage_q;
  assign stage_q = instr[STAGE_LSB +: 3];
  logic image_on;

  always_ff @(posedge clk) begin
    unit_start <= '0;
    done <= 1'b0;
    fetch_start <= 1'b0;
    if (image_on) cycles <= cycles + 1;
    case (state)
      IDLE: if (start) begin
        state <= READ0;
        pc <= '0;
        reg_t <= CNT_W'(1 + N_PATCH);
        reg_n <= CNT_W'(N_PATCH);
        kept <= '0;
        fetch_start <= 1'b1;
        cycles <= '0;
        image_on <= 1'b1;
      end
      READ0: begin
        q0 <= rom[pc];
        state <= READ1;
      end
      READ1: state <= MUL;    // the word is in q0; the count operands are registered
      MUL: state <= COUNT;    // the counts are registered
      COUNT: begin
        instr <= q0;
        opcode <= q0[3:0];
        rows <= c_rows;
        k_count <= c_k;
        k_chunks <= CNT_W'(k_round >> LOG2L);
        k_last <= CNT_W'(k_m1[LOG2L-1:0]) + 1'b1;
        n_count <= c_n;
        n_chunks <= CNT_W'(n_round >> LOG2L);
        n_last <= CNT_W'(n_m1[LOG2L-1:0]) + 1'b1;
        state <= LAUNCH;
      end
      LAUNCH: begin
        unit_start[opcode] <= 1'b1;
`ifdef SPVIT_PROBES
        probe_start[pc] <= cycles;
`endif
        state <= WAIT;
      end
      WAIT: if (unit_done[opcode]) begin
        if (opcode == OP_SELECT) begin
          reg_n <= sel_n;
          reg_t <= sel_t;
          kept[stage_q*CNT_W +: CNT_W] <= sel_n;
        end
        if (opcode == OP_RESULT || pc == PC_W'(PROG_LEN - 1)) begin
          state <= IDLE;
          done <= 1'b1;
          image_on <= 1'b0;
        end else begin
          pc <= pc + 1'b1;
          state <= READ0;
        end
      end
      default: state <= IDLE;
    endcase
    if (!rst_n) begin
      state <= IDLE;
      pc <= '0;
      image_on <= 1'b0;
      cycles <= '0;
      unit_start <= '0;
    end
  end

  assign busy = (state != IDLE);
endmodule
