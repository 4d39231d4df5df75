// spvit_ov_ddr_model: simulated DDR for the overlay engine's weight fetch -- NP AXI4 read slaves
// over one byte memory, with the board's latency and bandwidth limits.  SIMULATION ONLY (Verilator;
// not synthesisable: $fopen/$fread, integer arrays, blocking assignments).
//
// Why not cocotbext-axi's AxiRamRead: that model is Python coroutines that wake on every clock
// edge of every port.  Measured on this machine with spvit_ov_fetch (4 ports of 16 bytes, no
// per-cycle monitor in the bench): four AxiRamRead slaves run 4.6 k cycles/s, so a DeiT-S image
// (~21 MB, 330 k cycles even at 64 B/cycle) would take over a minute per image, before any engine
// unit runs.  This model is compiled into the Verilator C++ with the design, the clock loop never
// enters Python: 21.0 MB at zcu102's 51.2 B/cycle (409 966 cycles) take 1.6 s (250 k cycles/s,
// 54x faster).  The cocotb tests check it against the same stream bytes as AxiRamRead
// (rtl_sim/tb_ov_fetch.py, rtl_sim/tb_ov_ddr.py).
//
// Memory: MEM_BYTES bytes at byte addresses [BASE, BASE + MEM_BYTES); at time 0 the file FILE
// (binary, e.g. the design's weights.bin; the plusarg +SPVIT_WEIGHTS=<file> overrides FILE at run
// time) is read into it from BASE on with $fread (FILE = "":
// all zero).  file_bytes tells how many bytes were read.
//
// Timing of one port p (edges counted from reset; a handshake "at edge t" means valid && ready
// sampled at the rising edge t):
//   * AR: arready is a register: high when the port holds fewer than AR_DEPTH bursts (accepted,
//     not yet completely presented) and the random AR pause (pause_ar percent of the cycles,
//     drawn per port and cycle) is not on.  Several bursts may be outstanding; they are answered
//     in order (rid = their arid).
//   * R: a burst whose AR handshake is at edge a has its first R handshake at edge a + LATENCY at
//     the earliest; its beats follow in order, at most one beat a cycle per port, rlast on the
//     last one.  A beat is put on the R channel (rvalid, rdata, rresp, rlast, rid: registers) at an
//     edge when the port's R register is free (empty, or its beat handed over at this edge), the
//     burst is due, the random R pause (pause_r percent) is off, and the shared budget allows it.
//   * Shared budget: a byte bucket, in units of 1/BUDGET_DEN byte, gains BUDGET_NUM units every
//     edge (at most up to max(NP*PB*BUDGET_DEN, BUDGET_NUM) units) and pays PB*BUDGET_DEN units for
//     every beat put on an R channel; the ports are served round-robin (the search starts at the
//     port after the last one served), so all ports together average at most
//     BUDGET_NUM/BUDGET_DEN bytes a cycle (e.g. 512/10 = 51.2 B/cycle: zcu102, 15.36 GB/s at
//     300 MHz).  With rready high, one port alone gets min(PB, BUDGET_NUM/BUDGET_DEN) bytes a cycle.
//   * Responses: OKAY; SLVERR for every beat of a burst that is not INCR with arsize = log2(PB), whose
//     address is not PB-aligned, or that crosses a 4 KiB boundary; DECERR (data 0) for a beat outside
//     the memory; SLVERR for the beat at byte address err_addr while err_en is high (test knob).
//   * served_bytes: PB for every R handshake (all ports), the engine's `ddr_bytes`.
//
// Preconditions: PB a power of two (1..128); LATENCY >= 1 (the engine uses >= 40); BUDGET_NUM,
// BUDGET_DEN >= 1; the master keeps arvalid and the AR fields stable until arready (AXI).
module spvit_ov_ddr_model #(
    parameter int          NP         = 2,          // read ports
    parameter int          PB         = 16,         // bytes per beat of one port
    parameter int          ADDR_W     = 40,         // byte-address width
    parameter int          ID_W       = 1,          // ID width
    parameter logic [63:0] BASE       = 64'h0,      // byte address of memory byte 0 (and the file)
    parameter int          MEM_BYTES  = 1 << 20,    // memory size (bytes)
    parameter              FILE       = "",         // binary file loaded at BASE ("" = none)
    parameter int          LATENCY    = 40,         // AR handshake -> first R handshake (cycles, >= 1)
    parameter int          BUDGET_NUM = 512,        // shared budget: BUDGET_NUM / BUDGET_DEN
    parameter int          BUDGET_DEN = 10,         //   bytes a cycle over all ports
    parameter int          AR_DEPTH   = 8,          // bursts a port holds (outstanding)
    parameter int          SEED       = 1           // seed of the random pauses
) (
    input  logic                  clk,
    input  logic                  rst_n,
    // NP AXI4 read slaves; port p in lane p of every vector
    input  logic [NP*ID_W-1:0]    s_axi_arid,
    input  logic [NP*ADDR_W-1:0]  s_axi_araddr,
    input  logic [NP*8-1:0]       s_axi_arlen,
    input  logic [NP*3-1:0]       s_axi_arsize,
    input  logic [NP*2-1:0]       s_axi_arburst,
    input  logic [NP-1:0]         s_axi_arvalid,
    output logic [NP-1:0]         s_axi_arready,
    output logic [NP*ID_W-1:0]    s_axi_rid,
    output logic [NP*PB*8-1:0]    s_axi_rdata,
    output logic [NP*2-1:0]       s_axi_rresp,
    output logic [NP-1:0]         s_axi_rlast,
    output logic [NP-1:0]         s_axi_rvalid,
    input  logic [NP-1:0]         s_axi_rready,
    // test knobs
    input  logic [6:0]            pause_ar,     // percent of cycles a port holds arready low
    input  logic [6:0]            pause_r,      // percent of cycles a port presents no new beat
    input  logic                  err_en,       // answer the beat at err_addr with SLVERR
    input  logic [ADDR_W-1:0]     err_addr,
    // counters
    output logic [63:0]           served_bytes, // bytes handed over on all R channels
    output logic [31:0]           file_bytes    // bytes read from FILE at time 0
);
  localparam int LB = $clog2(PB);
  localparam longint COST = longint'(PB) * longint'(BUDGET_DEN);
  localparam longint FILL = longint'(BUDGET_NUM);
  localparam longint CAP = (longint'(NP) * COST > FILL) ? longint'(NP) * COST : FILL;

  logic [7:0] mem[MEM_BYTES];

  // verilator lint_off BLKSEQ
  initial begin : p_load
    int fd;
    string path;
    file_bytes = 0;
    for (int k = 0; k < MEM_BYTES; k++) begin
      mem[k] = 8'h00;
    end
    // +SPVIT_WEIGHTS=<file> overrides FILE at run time, so one build serves every image of a size
    if (!$value$plusargs("SPVIT_WEIGHTS=%s", path)) path = FILE;
    if (path != "") begin
      fd = $fopen(path, "rb");
      if (fd == 0) begin
        $fatal(1, "spvit_ov_ddr_model: cannot open %s", path);
      end
      file_bytes = $fread(mem, fd);
      $fclose(fd);
    end
  end

  // ---- model state (behavioural; blocking assignments inside the clocked process) -----------
  longint cyc;                                     // index of the current edge
  longint credit;                                  // shared budget (1/BUDGET_DEN bytes)
  int rr;                                          // first port to look at
  longint q_addr[NP][AR_DEPTH];                    // outstanding bursts of each port (a ring)
  int q_len[NP][AR_DEPTH];
  logic [ID_W-1:0] q_id[NP][AR_DEPTH];
  longint q_due[NP][AR_DEPTH];                     // earliest edge of the first R handshake
  logic q_bad[NP][AR_DEPTH];                       // burst answered SLVERR
  int q_head[NP], q_cnt[NP];
  int beat[NP];                                    // next beat of the head burst
  logic [31:0] rng[NP];                            // xorshift32 per port

  function automatic logic [31:0] xorshift(input logic [31:0] x);
    logic [31:0] y;
    y = x ^ (x << 13);
    y = y ^ (y >> 17);
    return y ^ (y << 5);
  endfunction

  always @(posedge clk) begin : p_model
    logic [NP-1:0] rv;                             // R register holds a beat after this edge
    logic [NP-1:0] arr;
    longint a, off;
    int p, len, rr_next;
    // verilator lint_off UNUSEDSIGNAL
    int slot;                                      // ring index (< AR_DEPTH)
    // verilator lint_on UNUSEDSIGNAL
    logic [1:0] resp;
    logic [PB*8-1:0] data;
    logic bad;
    if (!rst_n) begin
      cyc = 0;
      credit = 0;
      rr = 0;
      for (int i = 0; i < NP; i++) begin
        q_head[i] = 0;
        q_cnt[i] = 0;
        beat[i] = 0;
        rng[i] = 32'h9E37_79B9 ^ 32'(SEED * 7919 + i * 104729 + 1);
      end
      s_axi_arready <= '0;
      s_axi_rvalid <= '0;
      served_bytes <= '0;
    end else begin
      rv = s_axi_rvalid;
      // R handshakes at this edge free the R registers
      for (int i = 0; i < NP; i++) begin
        if (s_axi_rvalid[i] && s_axi_rready[i]) begin
          rv[i] = 1'b0;
        end
      end
      served_bytes <= served_bytes + 64'(PB * $countones(s_axi_rvalid & s_axi_rready));
      // AR handshakes at this edge
      for (int i = 0; i < NP; i++) begin
        if (s_axi_arvalid[i] && s_axi_arready[i]) begin
          slot = (q_head[i] + q_cnt[i]) % AR_DEPTH;
          a = longint'(s_axi_araddr[i*ADDR_W+:ADDR_W]);
          len = int'(s_axi_arlen[i*8+:8]) + 1;
          q_addr[i][slot] = a;
          q_len[i][slot] = len;
          q_id[i][slot] = s_axi_arid[i*ID_W+:ID_W];
          q_due[i][slot] = cyc + longint'(LATENCY);
          q_bad[i][slot] = (s_axi_arburst[i*2+:2] != 2'b01) || (s_axi_arsize[i*3+:3] != 3'(LB)) ||
                           ((a % longint'(PB)) != 0) || ((a % 4096) + longint'(len * PB) > 4096);
          q_cnt[i] = q_cnt[i] + 1;
        end
      end
      // the shared budget fills
      credit = credit + FILL;
      if (credit > CAP) begin
        credit = CAP;
      end
      // put beats on the free R registers, round-robin from port rr
      rr_next = rr;
      for (int k = 0; k < NP; k++) begin
        p = (rr + k) % NP;
        rng[p] = xorshift(rng[p]);
        if (!rv[p] && q_cnt[p] != 0 && cyc + 1 >= q_due[p][q_head[p]] && int'(rng[p] % 100) >= int'(pause_r) &&
            credit >= COST) begin
          slot = q_head[p];
          a = q_addr[p][slot] + longint'(beat[p] * PB);
          off = a - longint'(BASE);
          bad = q_bad[p][slot] || (err_en && a == longint'(err_addr));
          data = '0;
          if (a < longint'(BASE) || off + longint'(PB) > longint'(MEM_BYTES)) begin
            resp = 2'b11;                          // DECERR
          end else begin
            resp = bad ? 2'b10 : 2'b00;            // SLVERR / OKAY
            for (int b = 0; b < PB; b++) begin
              data[b*8+:8] = mem[int'(off)+b];
            end
          end
          s_axi_rdata[p*PB*8+:PB*8] <= data;
          s_axi_rresp[p*2+:2] <= resp;
          s_axi_rid[p*ID_W+:ID_W] <= q_id[p][slot];
          s_axi_rlast[p] <= (beat[p] == q_len[p][slot] - 1);
          rv[p] = 1'b1;
          credit = credit - COST;
          rr_next = (p + 1) % NP;
          if (beat[p] == q_len[p][slot] - 1) begin
            beat[p] = 0;
            q_head[p] = (q_head[p] + 1) % AR_DEPTH;
            q_cnt[p] = q_cnt[p] - 1;
          end else begin
            beat[p] = beat[p] + 1;
          end
        end
      end
      rr = rr_next;
      s_axi_rvalid <= rv;
      // AR ready for the next edge
      for (int i = 0; i < NP; i++) begin
        rng[i] = xorshift(rng[i]);
        arr[i] = (q_cnt[i] < AR_DEPTH) && (int'(rng[i] % 100) >= int'(pause_ar));
      end
      s_axi_arready <= arr;
      cyc = cyc + 1;
    end
  end
  // verilator lint_on BLKSEQ
endmodule
