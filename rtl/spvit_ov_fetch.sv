// spvit_ov_fetch: the overlay engine's weight fetch -- NP AXI4 read masters that read the DDR
// weight image (spvit_fpga/hw/overlay/layout.py) and merge it into the param stream.
//
// Image: NP regions of region_bytes bytes each (a multiple of 4 KiB), region i at
// base + i*region_bytes; region i holds bytes [i*PB, (i+1)*PB) of every SB = NP*PB-byte
// param-stream beat, in beat order.  On a start pulse (ignored while busy) port i reads the
// `beats` PB-byte words at base + i*region_bytes + k*PB, k = 0 .. beats-1, front to back, into
// its own FIFO (FIFO_BEATS words); the merger hands out beat k of the stream,
//     ps_tdata[i*PB*8 +: PB*8] = word k of port i        (lane i = port i, little-endian),
// as soon as every port FIFO holds its word k (ps_tvalid = AND of the FIFOs' output valids;
// all FIFOs are popped together on ps_tvalid && ps_tready).
//
// Address channel of a port: INCR bursts (arsize = log2(PB), full width), each
//     len = min(MAX_BURST, words up to the next 4 KiB boundary, words not yet requested)
// beats, so no burst crosses 4 KiB.  A burst is issued (arvalid raised) only when
//   * its FIFO has room for the whole burst: a credit counter starts at FIFO_BEATS, loses len
//     when the burst is issued and gains one for every word the merger pops; so every R beat
//     finds room and rready (the FIFO's input ready, a register) stays high during a load;
//   * fewer than OUTSTANDING bursts of the port are in flight (issued, rlast not yet seen).
// arid = 0, arcache = 4'b0011 (normal non-cacheable bufferable, the Vitis HLS m_axi default),
// arprot = arlock = arqos = 0.  The next burst's length is computed one cycle ahead into a
// register, so a port raises arvalid at most every other cycle (a burst is >= 1 page or the
// rest of the region, far longer than that).
//
// Status: busy from the cycle after start until done; done is a one-cycle pulse in the cycle
// after the edge that popped the last stream beat (every beat delivered); error is set by any R
// beat with rresp != OKAY (the word is still delivered) and stays set until the next start.
// beats = 0: done is high after edge s+1 (start at edge s), no read.
//
// Cycles (start sampled at edge s; "a handshake at edge t" = valid && ready sampled at edge t):
// edge s+1 computes the port addresses, edge s+2 the first burst lengths, arvalid is high from
// edge s+3, so the first AR handshake is at edge s+4 at the earliest.  An R beat accepted at edge
// t is in its FIFO's output register from edge t+1, so with every port's first beat at edge t0
// the first stream handshake is at edge t0+2 at the earliest, then one beat a cycle while every
// port delivers one word a cycle and ps_tready is high; done is high after the edge of the last
// stream handshake.  At full rate (no AR/R pause, no back-pressure, a slave that answers each
// port's bursts back to back, LATENCY edges from AR to first R handshake) done is high after edge
//     d = s + LATENCY + beats + 5
// (checked exactly against spvit_ov_ddr_model by rtl_sim/tb_ov_ddr.py).  Under a shared DDR
// budget of B bytes a cycle the stream runs at min(1, B/(NP*PB)) beats a cycle.
//
// Ports: four named AXI4 read-master bundles m_axi_gmem0_* .. m_axi_gmem3_* (every board in
// boards/ has at most 4 HP ports); bundles i >= NP are tied off (arvalid = 0, rready = 0) and
// their inputs ignored.
//
// Preconditions: 1 <= NP <= 4; PB a power of two from 1 to 128; base a multiple of PB;
// 1 <= MAX_BURST <= 256; FIFO_BEATS >= min(MAX_BURST, 4096/PB) and FIFO_BEATS >= 3;
// OUTSTANDING >= 1; region_bytes >= beats*PB (a multiple of PB); the slave returns exactly
// arlen+1 beats per burst with rlast on the last, in order (one ID).
module spvit_ov_fetch #(
    parameter int NP          = 2,     // AXI4 read ports used (1..4)
    parameter int PB          = 16,    // bytes per port beat (AXI data width / 8)
    parameter int ADDR_W      = 40,    // AXI byte-address width
    parameter int BEATS_W     = 32,    // width of the stream-beat count
    parameter int MAX_BURST   = 256,   // most beats per burst (1..256)
    parameter int OUTSTANDING = 4,     // bursts in flight per port
    parameter int FIFO_BEATS  = 512,   // FIFO words per port
    parameter int ID_W        = 1      // AXI ID width (arid = 0)
) (
    input  logic                  clk,
    input  logic                  rst_n,
    // control
    input  logic                  start,          // pulse: fetch one image (ignored while busy)
    input  logic [ADDR_W-1:0]     base,           // byte address of region 0 (PB-aligned)
    input  logic [ADDR_W-1:0]     region_bytes,   // bytes per region (layout.region_bytes)
    input  logic [BEATS_W-1:0]    beats,          // stream beats of the image
    output logic                  busy,           // a fetch is running
    output logic                  done,           // pulse: every beat was delivered
    output logic                  error,          // an R beat had rresp != OKAY (until next start)
    // param stream (master)
    output logic [NP*PB*8-1:0]    ps_tdata,       // lane i (PB bytes) = port i's word
    output logic                  ps_tvalid,
    input  logic                  ps_tready,
    // AXI4 read master 0
    output logic [ID_W-1:0]       m_axi_gmem0_arid,
    output logic [ADDR_W-1:0]     m_axi_gmem0_araddr,
    output logic [7:0]            m_axi_gmem0_arlen,
    output logic [2:0]            m_axi_gmem0_arsize,
    output logic [1:0]            m_axi_gmem0_arburst,
    output logic                  m_axi_gmem0_arlock,
    output logic [3:0]            m_axi_gmem0_arcache,
    output logic [2:0]            m_axi_gmem0_arprot,
    output logic [3:0]            m_axi_gmem0_arqos,
    output logic                  m_axi_gmem0_arvalid,
    input  logic                  m_axi_gmem0_arready,
    input  logic [ID_W-1:0]       m_axi_gmem0_rid,
    input  logic [PB*8-1:0]       m_axi_gmem0_rdata,
    input  logic [1:0]            m_axi_gmem0_rresp,
    input  logic                  m_axi_gmem0_rlast,
    input  logic                  m_axi_gmem0_rvalid,
    output logic                  m_axi_gmem0_rready,
    // AXI4 read master 1
    output logic [ID_W-1:0]       m_axi_gmem1_arid,
    output logic [ADDR_W-1:0]     m_axi_gmem1_araddr,
    output logic [7:0]            m_axi_gmem1_arlen,
    output logic [2:0]            m_axi_gmem1_arsize,
    output logic [1:0]            m_axi_gmem1_arburst,
    output logic                  m_axi_gmem1_arlock,
    output logic [3:0]            m_axi_gmem1_arcache,
    output logic [2:0]            m_axi_gmem1_arprot,
    output logic [3:0]            m_axi_gmem1_arqos,
    output logic                  m_axi_gmem1_arvalid,
    input  logic                  m_axi_gmem1_arready,
    input  logic [ID_W-1:0]       m_axi_gmem1_rid,
    input  logic [PB*8-1:0]       m_axi_gmem1_rdata,
    input  logic [1:0]            m_axi_gmem1_rresp,
    input  logic                  m_axi_gmem1_rlast,
    input  logic                  m_axi_gmem1_rvalid,
    output logic                  m_axi_gmem1_rready,
    // AXI4 read master 2
    output logic [ID_W-1:0]       m_axi_gmem2_arid,
    output logic [ADDR_W-1:0]     m_axi_gmem2_araddr,
    output logic [7:0]            m_axi_gmem2_arlen,
    output logic [2:0]            m_axi_gmem2_arsize,
    output logic [1:0]            m_axi_gmem2_arburst,
    output logic                  m_axi_gmem2_arlock,
    output logic [3:0]            m_axi_gmem2_arcache,
    output logic [2:0]            m_axi_gmem2_arprot,
    output logic [3:0]            m_axi_gmem2_arqos,
    output logic                  m_axi_gmem2_arvalid,
    input  logic                  m_axi_gmem2_arready,
    input  logic [ID_W-1:0]       m_axi_gmem2_rid,
    input  logic [PB*8-1:0]       m_axi_gmem2_rdata,
    input  logic [1:0]            m_axi_gmem2_rresp,
    input  logic                  m_axi_gmem2_rlast,
    input  logic                  m_axi_gmem2_rvalid,
    output logic                  m_axi_gmem2_rready,
    // AXI4 read master 3
    output logic [ID_W-1:0]       m_axi_gmem3_arid,
    output logic [ADDR_W-1:0]     m_axi_gmem3_araddr,
    output logic [7:0]            m_axi_gmem3_arlen,
    output logic [2:0]            m_axi_gmem3_arsize,
    output logic [1:0]            m_axi_gmem3_arburst,
    output logic                  m_axi_gmem3_arlock,
    output logic [3:0]            m_axi_gmem3_arcache,
    output logic [2:0]            m_axi_gmem3_arprot,
    output logic [3:0]            m_axi_gmem3_arqos,
    output logic                  m_axi_gmem3_arvalid,
    input  logic                  m_axi_gmem3_arready,
    input  logic [ID_W-1:0]       m_axi_gmem3_rid,
    input  logic [PB*8-1:0]       m_axi_gmem3_rdata,
    input  logic [1:0]            m_axi_gmem3_rresp,
    input  logic                  m_axi_gmem3_rlast,
    input  logic                  m_axi_gmem3_rvalid,
    output logic                  m_axi_gmem3_rready
);
  localparam int MAXP = 4;                             // named bundles
  localparam int W = PB * 8;
  localparam int LB = $clog2(PB);                      // byte-offset bits of a word
  localparam int PAGE_BEATS = 4096 / PB;               // words in a 4 KiB page
  localparam int LEN_W = 9;                            // burst length 1..256
  localparam int PG_W = 13;                            // 0 .. 4096
  localparam int F_W = $clog2(FIFO_BEATS + 1);         // credits 0 .. FIFO_BEATS
  localparam int O_W = $clog2(OUTSTANDING + 1);        // bursts in flight 0 .. OUTSTANDING
  localparam int CAP = (PAGE_BEATS < MAX_BURST) ? PAGE_BEATS : MAX_BURST;

  // ---- the bundles as arrays (index = port) -----------------------------------------------
  logic [ADDR_W-1:0] ar_addr[MAXP];
  logic [7:0]        ar_len[MAXP];
  logic              ar_valid[MAXP];
  logic              ar_ready[MAXP];
  logic [W-1:0]      r_data[MAXP];
  logic [1:0]        r_resp[MAXP];
  logic              r_last[MAXP];
  logic              r_valid[MAXP];
  logic              r_ready[MAXP];

  assign ar_ready = '{m_axi_gmem0_arready, m_axi_gmem1_arready, m_axi_gmem2_arready, m_axi_gmem3_arready};
  assign r_data = '{m_axi_gmem0_rdata, m_axi_gmem1_rdata, m_axi_gmem2_rdata, m_axi_gmem3_rdata};
  assign r_resp = '{m_axi_gmem0_rresp, m_axi_gmem1_rresp, m_axi_gmem2_rresp, m_axi_gmem3_rresp};
  assign r_last = '{m_axi_gmem0_rlast, m_axi_gmem1_rlast, m_axi_gmem2_rlast, m_axi_gmem3_rlast};
  assign r_valid = '{m_axi_gmem0_rvalid, m_axi_gmem1_rvalid, m_axi_gmem2_rvalid, m_axi_gmem3_rvalid};

  assign m_axi_gmem0_araddr = ar_addr[0];
  assign m_axi_gmem1_araddr = ar_addr[1];
  assign m_axi_gmem2_araddr = ar_addr[2];
  assign m_axi_gmem3_araddr = ar_addr[3];
  assign m_axi_gmem0_arlen = ar_len[0];
  assign m_axi_gmem1_arlen = ar_len[1];
  assign m_axi_gmem2_arlen = ar_len[2];
  assign m_axi_gmem3_arlen = ar_len[3];
  assign m_axi_gmem0_arvalid = ar_valid[0];
  assign m_axi_gmem1_arvalid = ar_valid[1];
  assign m_axi_gmem2_arvalid = ar_valid[2];
  assign m_axi_gmem3_arvalid = ar_valid[3];
  assign m_axi_gmem0_rready = r_ready[0];
  assign m_axi_gmem1_rready = r_ready[1];
  assign m_axi_gmem2_rready = r_ready[2];
  assign m_axi_gmem3_rready = r_ready[3];
  // constant address-channel fields
  assign {m_axi_gmem0_arid, m_axi_gmem1_arid, m_axi_gmem2_arid, m_axi_gmem3_arid} = '0;
  assign {m_axi_gmem0_arsize, m_axi_gmem1_arsize, m_axi_gmem2_arsize, m_axi_gmem3_arsize} = {MAXP{3'(LB)}};
  assign {m_axi_gmem0_arburst, m_axi_gmem1_arburst, m_axi_gmem2_arburst, m_axi_gmem3_arburst} = {MAXP{2'b01}};
  assign {m_axi_gmem0_arlock, m_axi_gmem1_arlock, m_axi_gmem2_arlock, m_axi_gmem3_arlock} = '0;
  assign {m_axi_gmem0_arcache, m_axi_gmem1_arcache, m_axi_gmem2_arcache, m_axi_gmem3_arcache} = {MAXP{4'b0011}};
  assign {m_axi_gmem0_arprot, m_axi_gmem1_arprot, m_axi_gmem2_arprot, m_axi_gmem3_arprot} = '0;
  assign {m_axi_gmem0_arqos, m_axi_gmem1_arqos, m_axi_gmem2_arqos, m_axi_gmem3_arqos} = '0;

  // ---- control --------------------------------------------------------------------------------
  typedef enum logic [1:0] {
    IDLE,
    SETUP,
    RUN
  } state_t;
  state_t state;
  logic [ADDR_W-1:0] base_q, region_q;
  logic [BEATS_W-1:0] beats_q;
  logic [BEATS_W-1:0] pop_left;                        // stream beats not yet delivered
  logic pop;                                           // a stream beat is handed out
  logic [NP-1:0] f_valid;                              // FIFO output valid per port
  logic [NP-1:0] r_err;                                // an R beat with an error response

  assign busy = (state != IDLE);
  assign ps_tvalid = &f_valid;
  assign pop = ps_tvalid && ps_tready;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      state <= IDLE;
      done <= 1'b0;
      error <= 1'b0;
      pop_left <= '0;
    end else begin
      done <= 1'b0;
      case (state)
        IDLE: begin
          if (start) begin
            state <= SETUP;
            error <= 1'b0;
            base_q <= base;
            region_q <= region_bytes;
            beats_q <= beats;
            pop_left <= beats;
          end
        end
        SETUP: begin
          if (beats_q == '0) begin
            state <= IDLE;
            done <= 1'b1;
          end else begin
            state <= RUN;
          end
        end
        default: begin                                 // RUN
          if (|r_err) begin
            error <= 1'b1;
          end
          if (pop) begin
            pop_left <= pop_left - 1'b1;
            if (pop_left == BEATS_W'(1)) begin
              state <= IDLE;
              done <= 1'b1;
            end
          end
        end
      endcase
    end
  end

  // ---- one reader and one FIFO per port ---------------------------------------------------------
  for (genvar i = 0; i < MAXP; i++) begin : g_port
    if (i < NP) begin : g_used
      logic [ADDR_W-1:0] addr;                         // byte address of the next burst
      logic [ADDR_W-1:0] araddr_q;                     // AR channel registers
      logic [7:0] arlen_q;
      logic arvalid_q;
      logic [BEATS_W-1:0] left;                        // words not yet requested
      logic [LEN_W-1:0] len_q;                         // length of the next burst
      logic len_ok;                                    // len_q is up to date
      logic [F_W-1:0] credit;                          // FIFO words not yet promised
      logic [O_W-1:0] inflight;                        // bursts issued, rlast not yet seen
      logic [PG_W-1:0] to_page;
      logic [LEN_W-1:0] len_c;
      logic issue, r_fire, r_end;
      // issue conditions as registers (the compares of left, credit and inflight in front of the
      // 40-bit address enable were 8 LUT levels): each is at most one cycle stale, and only an issue
      // makes one of them less true -- the cycle after an issue cannot issue (len_ok), by the next
      // one they have caught up; lengths never grow along a region, so a stale len_q is the safe side
      logic left_nz, credit_ok, slot_ok;

      assign to_page = PG_W'(PAGE_BEATS) - PG_W'(addr[11:0] >> LB);
      always_comb begin : p_len
        len_c = (to_page < PG_W'(CAP)) ? LEN_W'(to_page) : LEN_W'(CAP);
        if (left < BEATS_W'(len_c)) begin
          len_c = LEN_W'(left);
        end
      end
      assign ar_addr[i] = araddr_q;
      assign ar_len[i] = arlen_q;
      assign ar_valid[i] = arvalid_q;
      assign issue = (state == RUN) && !arvalid_q && len_ok && left_nz && credit_ok && slot_ok;
      always_ff @(posedge clk) begin
        left_nz <= (left != '0);
        credit_ok <= (credit >= F_W'(len_q));
        slot_ok <= (inflight != O_W'(OUTSTANDING));
      end
      assign r_fire = r_valid[i] && r_ready[i];
      assign r_end = r_fire && r_last[i];
      assign r_err[i] = r_fire && (r_resp[i] != 2'b00);

      always_ff @(posedge clk) begin
        if (!rst_n) begin
          arvalid_q <= 1'b0;
          len_ok <= 1'b0;
          left <= '0;
          inflight <= '0;
          credit <= F_W'(FIFO_BEATS);
        end else if (state == SETUP) begin
          // base + i*region without a multiplier (i <= 3)
          addr <= base_q + (((i & 1) != 0) ? region_q : '0) + (((i & 2) != 0) ? (region_q << 1) : '0);
          left <= beats_q;
          len_ok <= 1'b0;
          inflight <= '0;
          credit <= F_W'(FIFO_BEATS);
        end else begin
          len_q <= len_c;
          len_ok <= !issue;
          if (issue) begin
            arvalid_q <= 1'b1;
            araddr_q <= addr;
            arlen_q <= 8'(len_q - 1'b1);
            addr <= addr + (ADDR_W'(len_q) << LB);
            left <= left - BEATS_W'(len_q);
          end else if (ar_ready[i]) begin
            arvalid_q <= 1'b0;
          end
          credit <= credit - (issue ? F_W'(len_q) : '0) + F_W'(pop);
          inflight <= inflight + O_W'(issue) - O_W'(r_end);
        end
      end

      // the port's FIFO: FIFO_BEATS words (FIFO_BEATS - 1 in the RAM, one in the output register)
      logic f_tlast;
      logic [0:0] f_tuser;
      spvit_fifo #(
          .W(W),
          .DEPTH(FIFO_BEATS - 1),
          .USER_W(1)
      ) u_fifo (
          .clk(clk),
          .rst_n(rst_n),
          .s_axis_tdata(r_data[i]),
          .s_axis_tvalid(r_valid[i]),
          .s_axis_tready(r_ready[i]),
          .s_axis_tlast(1'b0),
          .s_axis_tuser(1'b0),
          .m_axis_tdata(ps_tdata[i*W+:W]),
          .m_axis_tvalid(f_valid[i]),
          .m_axis_tready(pop),
          .m_axis_tlast(f_tlast),
          .m_axis_tuser(f_tuser)
      );
      logic unused_port;
      assign unused_port = &{1'b0, f_tlast, f_tuser};
    end else begin : g_off
      assign ar_valid[i] = 1'b0;
      assign ar_addr[i] = '0;
      assign ar_len[i] = '0;
      assign r_ready[i] = 1'b0;
      logic unused_port;
      assign unused_port = &{1'b0, ar_ready[i], r_data[i], r_resp[i], r_last[i], r_valid[i]};
    end
  end

  // One ID, bursts counted by rlast: rid is not looked at.
  logic unused_ok;
  assign unused_ok = &{1'b0, m_axi_gmem0_rid, m_axi_gmem1_rid, m_axi_gmem2_rid, m_axi_gmem3_rid};
endmodule
