// spvit_fifo: stream FIFO, one beat a cycle in and out, registered output, block-RAM storage.
//
// Storage: a simple dual-port RAM of DEPTH words of {tuser, tlast, tdata} (one write port, one
// read port with a registered read and a read enable: the pattern Vivado maps to block RAM for
// large DEPTH * W, e.g. 66 tokens x 1024 bits, and to distributed RAM for small ones).  The
// RAM's read register is the output register: m_axis_t* are register outputs.  A word is read
// whenever the RAM holds one and the output register is empty or handing its beat over in this
// cycle.  s_axis_tready is a register (1 while the RAM has a free word after this cycle's write
// and read), so nothing combinational passes from the output side to the input side; the
// read and write addresses of one cycle never coincide.
//
// Capacity: DEPTH beats in the RAM plus one in the output register (DEPTH + 1 in all; with the
// output stalled, exactly DEPTH + 1 beats are accepted).  Latency 2: a beat accepted at clock
// edge t (empty FIFO) is read into the output register at edge t + 1 and valid from then on.
// Throughput: one beat a cycle in and out for any DEPTH >= 2 (steady state: one word in the
// RAM, one in the output register).  s_axis_tready is 0 during reset and rises after the first
// edge with rst_n high.
// Preconditions: DEPTH >= 2, FOLD >= 1.
//
// FOLD > 1 (narrow RAM for wide beats, e.g. W = 1024 with FOLD = 8: 129-bit x 8*DEPTH RAM, far
// fewer BRAM18 than a 1027-bit x DEPTH one): each beat {tuser, tlast, tdata} (zero-padded to
// FOLD*SW bits, SW = ceil((W+1+USER_W)/FOLD)) is stored as FOLD consecutive RAM words of SW bits
// (slice k = bits [k*SW, (k+1)*SW)), in a simple dual-port RAM of FOLD*DEPTH words (one write,
// one registered read with enable, as above).  One word is written per cycle and one read per
// cycle.  Input: slices 0..FOLD-2 of the offered beat are written while s_axis_tvalid is high and
// s_axis_tready still low; s_axis_tready (a register) is 1 only in the cycle that writes the last
// slice, so the beat is accepted one cycle in FOLD at most.  Precondition (AXI-Stream rule): once
// s_axis_tvalid is 1, it and tdata/tlast/tuser stay unchanged until the handshake.  Output: the
// RAM read register feeds an assembly shift register (slices 0..FOLD-2) and, with the last
// slice, the full-width output register m_axis_t* (register outputs).  Nothing combinational
// passes from the output side to the input side.  Throughput: one beat every FOLD cycles.
// Capacity: exactly DEPTH + 2 beats with the output stalled (DEPTH beats in the RAM, one
// assembled in the read register + assembly register, one in the output register).  Full rate
// (no idle cycles, no back-pressure, empty FIFO): n beats take FOLD*n + 3 cycles from the first
// cycle tvalid is offered to the last output handshake (FOLD = 1: n + 2).
// FOLD = 1 is exactly the module described above (same registers, same cycle behaviour).
module spvit_fifo #(
    parameter int W      = 8,   // tdata bits of one beat
    parameter int DEPTH  = 4,   // RAM beats (>= 2); the FIFO holds DEPTH + 1 beats (FOLD > 1: DEPTH + 2)
    parameter int USER_W = 2,   // tuser bits (token kind)
    parameter int FOLD   = 1    // RAM words per beat (>= 1); one beat every FOLD cycles
) (
    input  logic              clk,
    input  logic              rst_n,
    input  logic [W-1:0]      s_axis_tdata,
    input  logic              s_axis_tvalid,
    output logic              s_axis_tready,
    input  logic              s_axis_tlast,
    input  logic [USER_W-1:0] s_axis_tuser,
    output logic [W-1:0]      m_axis_tdata,
    output logic              m_axis_tvalid,
    input  logic              m_axis_tready,
    output logic              m_axis_tlast,
    output logic [USER_W-1:0] m_axis_tuser
);
  localparam int WORD_W = W + 1 + USER_W;

  if (FOLD == 1) begin : g_plain
    localparam int A_W = $clog2(DEPTH);
    localparam int N_W = $clog2(DEPTH + 1);
    localparam logic [A_W-1:0] A_LAST = A_W'(DEPTH - 1);
    localparam logic [N_W-1:0] N_FULL = N_W'(DEPTH);

    logic [WORD_W-1:0] mem[DEPTH];
    logic [WORD_W-1:0] q;              // RAM read register = output register
    logic [A_W-1:0] wr_ptr, rd_ptr;
    logic [N_W-1:0] count, count_next; // words in the RAM (not yet read out)
    logic wr, rd;

    assign wr = s_axis_tvalid && s_axis_tready;
    assign rd = (count != '0) && (!m_axis_tvalid || m_axis_tready);
    assign count_next = count + N_W'(wr) - N_W'(rd);
    assign {m_axis_tuser, m_axis_tlast, m_axis_tdata} = q;

    always_ff @(posedge clk) begin
      if (!rst_n) begin
        wr_ptr <= '0;
        rd_ptr <= '0;
        count <= '0;
        s_axis_tready <= 1'b0;
        m_axis_tvalid <= 1'b0;
      end else begin
        if (wr) wr_ptr <= (wr_ptr == A_LAST) ? '0 : wr_ptr + 1'b1;
        if (rd) rd_ptr <= (rd_ptr == A_LAST) ? '0 : rd_ptr + 1'b1;
        count <= count_next;
        s_axis_tready <= (count_next != N_FULL);
        if (rd) m_axis_tvalid <= 1'b1;
        else if (m_axis_tready) m_axis_tvalid <= 1'b0;
      end
    end

    // RAM: write port and registered read port with enable (no reset: block-RAM inference)
    always_ff @(posedge clk) begin
      if (wr) mem[wr_ptr] <= {s_axis_tuser, s_axis_tlast, s_axis_tdata};
    end

    always_ff @(posedge clk) begin
      if (rd) q <= mem[rd_ptr];
    end
  end else begin : g_fold
    localparam int SW = (WORD_W + FOLD - 1) / FOLD;        // bits of one RAM word (slice)
    localparam int ROWS = FOLD * DEPTH;                    // RAM words
    localparam int A_W = $clog2(ROWS);
    localparam int N_W = $clog2(ROWS + 1);
    localparam int S_W = $clog2(FOLD);
    localparam logic [A_W-1:0] A_LAST = A_W'(ROWS - 1);
    localparam logic [N_W-1:0] N_FULL = N_W'(ROWS);
    localparam logic [S_W-1:0] S_LAST = S_W'(FOLD - 1);

    logic [FOLD*SW-1:0] beat_in;                           // offered beat, zero-padded
    logic [SW-1:0] mem[ROWS];
    logic [SW-1:0] q;                                      // RAM read register
    logic [(FOLD-1)*SW-1:0] asm_q;                         // slices 0..FOLD-2 of the next output beat
    // verilator lint_off UNUSEDSIGNAL
    logic [FOLD*SW-1:0] out_q;      // output register (padding bits above WORD_W unused: pruned)
    logic [FOLD*SW-1:0] asm_shift;  // {q, asm_q}; only its upper (FOLD-1)*SW bits are shifted in
    // verilator lint_on UNUSEDSIGNAL
    logic [A_W-1:0] wr_ptr, rd_ptr;
    logic [N_W-1:0] count, count_next;                     // words in the RAM
    logic [S_W-1:0] ws, ws_next, rs;                       // slice index written / read next
    logic q_mid;                                           // q holds a fresh slice < FOLD-1
    logic q_end;                                           // q holds a last slice not yet output
    logic wr, rd, move, out_free;

    assign beat_in = (FOLD*SW)'({s_axis_tuser, s_axis_tlast, s_axis_tdata});
    // last slice: only with the (registered) handshake; others: whenever a word is free
    assign wr = s_axis_tvalid && (count != N_FULL) && ((ws != S_LAST) || s_axis_tready);
    assign out_free = !m_axis_tvalid || m_axis_tready;
    assign move = q_end && out_free;
    assign rd = (count != '0) && (!q_end || move);
    assign count_next = count + N_W'(wr) - N_W'(rd);
    assign ws_next = !wr ? ws : (ws == S_LAST) ? '0 : ws + 1'b1;
    assign asm_shift = {q, asm_q};
    assign {m_axis_tuser, m_axis_tlast, m_axis_tdata} = out_q[WORD_W-1:0];

    always_ff @(posedge clk) begin
      if (!rst_n) begin
        wr_ptr <= '0;
        rd_ptr <= '0;
        count <= '0;
        ws <= '0;
        rs <= '0;
        q_mid <= 1'b0;
        q_end <= 1'b0;
        s_axis_tready <= 1'b0;
        m_axis_tvalid <= 1'b0;
      end else begin
        if (wr) wr_ptr <= (wr_ptr == A_LAST) ? '0 : wr_ptr + 1'b1;
        ws <= ws_next;
        if (rd) begin
          rd_ptr <= (rd_ptr == A_LAST) ? '0 : rd_ptr + 1'b1;
          rs <= (rs == S_LAST) ? '0 : rs + 1'b1;
        end
        count <= count_next;
        // 1 exactly when the next cycle would write a last slice (so the handshake is that write)
        s_axis_tready <= (ws_next == S_LAST) && (count_next != N_FULL);
        q_mid <= rd && (rs != S_LAST);
        if (rd && rs == S_LAST) q_end <= 1'b1;
        else if (move) q_end <= 1'b0;
        if (move) m_axis_tvalid <= 1'b1;
        else if (m_axis_tready) m_axis_tvalid <= 1'b0;
      end
    end

    // assembly and output registers (no reset: data only)
    always_ff @(posedge clk) begin
      if (q_mid) asm_q <= asm_shift[FOLD*SW-1:SW];  // after FOLD-1 shifts slice k is at [k*SW +: SW]
      if (move) out_q <= {q, asm_q};
    end

    // RAM: write port and registered read port with enable (no reset: block-RAM inference)
    always_ff @(posedge clk) begin
      if (wr) mem[wr_ptr] <= beat_in[ws*SW +: SW];
    end

    always_ff @(posedge clk) begin
      if (rd) q <= mem[rd_ptr];
    end
  end
endmodule
