// spvit_weight_loader: reads the DDR weight image once over AXI4 and broadcasts it on the
// weight bus (rtl/DATAFLOW.md "Weight bus").
//
// On a start pulse (ignored while busy) the loader samples base_addr and reads the N_WORDS
// WB_W-bit words at byte addresses base_addr + i*(WB_W/8), i = 0 .. N_WORDS-1, as AXI4 INCR
// read bursts: each burst is min(MAX_BURST, words left, words up to the next 4 KB boundary)
// beats of the full bus width (arsize = log2(WB_W/8)), so no burst crosses a 4 KB boundary.
// Every accepted R beat i (in order: one ID, so the slave returns the bursts in order) is
// broadcast one cycle later as wb_valid = 1, wb_addr = i, wb_data = rdata; the weight bus has
// no back-pressure, so rready is held high for the whole load.
//
// Address channel: bursts are issued back to back (one cycle gap between an accepted AR and the
// next arvalid) without waiting for the data: the number of bursts in flight is limited only by
// the slave's arready.  arid = 0, arburst = INCR, arcache = 4'b0011 (normal non-cacheable
// bufferable, the Vitis HLS m_axi default), arprot = 0, arlock = 0, arqos = 0.
//
// Status: busy from the cycle after start until the cycle after the last word's wb_valid;
// done rises when busy falls and stays high until the next start; error is set (sticky until
// the next start) when any R beat of the load has rresp != OKAY (the word is still broadcast
// and counted).  rlast and rid are not looked at (single ID; beats are counted).
//
// Cycles: one word a cycle while the slave delivers R beats back to back; from start to done
// N_WORDS + (slave latency of the first burst) + 2 cycles plus every gap the slave leaves in the
// R channel (rtl_sim/tb_weight_loader.py measures 1000 words in 5 bursts in 1004 cycles with
// cocotbext-axi's AxiRamRead).
//
// Preconditions: WB_W/8 is a power of two from 1 to 128 (arsize <= 7, a 4 KB page is a whole
// number of beats); 1 <= MAX_BURST <= 256; 1 <= N_WORDS < 2^32; base_addr is a multiple of
// WB_W/8 and base_addr + N_WORDS*WB_W/8 <= 2^ADDR_W; the slave returns exactly arlen+1 beats per
// burst, in order.
module spvit_weight_loader #(
    parameter int WB_W      = 64,      // weight-bus / AXI data width (bits)
    parameter int ADDR_W    = 40,      // AXI byte-address width
    parameter int N_WORDS   = 1000,    // words in the weight image
    parameter int MAX_BURST = 256,     // most beats per burst (1..256)
    parameter int ID_W      = 1        // AXI ID width (arid = 0)
) (
    input  logic              clk,
    input  logic              rst_n,
    // control
    input  logic              start,                 // pulse: load the image (ignored while busy)
    input  logic [ADDR_W-1:0] base_addr,             // byte address of word 0 (WB_W/8-aligned)
    output logic              busy,                  // a load is running
    output logic              done,                  // the last load finished (until next start)
    output logic              error,                 // a beat of the load had rresp != OKAY
    // AXI4 read address channel
    output logic [ID_W-1:0]   m_axi_gmem_arid,
    output logic [ADDR_W-1:0] m_axi_gmem_araddr,
    output logic [7:0]        m_axi_gmem_arlen,      // beats - 1
    output logic [2:0]        m_axi_gmem_arsize,     // log2(WB_W/8)
    output logic [1:0]        m_axi_gmem_arburst,    // INCR
    output logic              m_axi_gmem_arlock,
    output logic [3:0]        m_axi_gmem_arcache,
    output logic [2:0]        m_axi_gmem_arprot,
    output logic [3:0]        m_axi_gmem_arqos,
    output logic              m_axi_gmem_arvalid,
    input  logic              m_axi_gmem_arready,
    // AXI4 read data channel
    input  logic [ID_W-1:0]   m_axi_gmem_rid,
    input  logic [WB_W-1:0]   m_axi_gmem_rdata,
    input  logic [1:0]        m_axi_gmem_rresp,
    input  logic              m_axi_gmem_rlast,
    input  logic              m_axi_gmem_rvalid,
    output logic              m_axi_gmem_rready,
    // weight bus (no back-pressure)
    output logic              wb_valid,              // one word this cycle
    output logic [31:0]       wb_addr,               // its index in the image
    output logic [WB_W-1:0]   wb_data
);
  localparam int BYTES = WB_W / 8;
  localparam int LB = $clog2(BYTES);                  // byte-offset bits of a word
  localparam int PAGE_BEATS = 4096 / BYTES;           // words in a 4 KB page
  localparam int CNT_W = $clog2(N_WORDS + 1);         // word counters (0 .. N_WORDS)
  localparam int BL_W = 14;                           // page-beat arithmetic (<= 4096)
  localparam int M_W = ((CNT_W > BL_W) ? CNT_W : BL_W) + 1;

  typedef enum logic [1:0] {
    IDLE,
    RUN,
    FIN
  } state_t;
  state_t state;

  // ---- address channel --------------------------------------------------------------------
  logic [ADDR_W-1:0] ar_addr;                         // byte address of the next burst
  logic [CNT_W-1:0]  ar_left;                         // words not yet requested
  logic [BL_W-1:0]   to_page;                         // words up to the next 4 KB boundary
  logic [M_W-1:0]    beats;                           // beats of the next burst
  logic [M_W-1:0]    cap;

  assign to_page = BL_W'(PAGE_BEATS) - BL_W'(ar_addr[11:LB]);
  always_comb begin : p_beats
    cap = (M_W'(to_page) < M_W'(MAX_BURST)) ? M_W'(to_page) : M_W'(MAX_BURST);
    beats = (M_W'(ar_left) < cap) ? M_W'(ar_left) : cap;
  end

  assign m_axi_gmem_arid = '0;
  assign m_axi_gmem_arsize = 3'(LB);
  assign m_axi_gmem_arburst = 2'b01;
  assign m_axi_gmem_arlock = 1'b0;
  assign m_axi_gmem_arcache = 4'b0011;
  assign m_axi_gmem_arprot = 3'b000;
  assign m_axi_gmem_arqos = 4'b0000;

  // ---- data channel -----------------------------------------------------------------------
  logic [CNT_W-1:0] r_cnt;                            // words received
  logic r_fire, r_last;
  assign m_axi_gmem_rready = (state == RUN);
  assign r_fire = m_axi_gmem_rvalid && m_axi_gmem_rready;
  assign r_last = (r_cnt == CNT_W'(N_WORDS - 1));

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      state <= IDLE;
      done <= 1'b0;
      error <= 1'b0;
      ar_left <= '0;
      r_cnt <= '0;
      m_axi_gmem_arvalid <= 1'b0;
      wb_valid <= 1'b0;
    end else begin
      wb_valid <= r_fire;
      case (state)
        IDLE: begin
          if (start) begin
            state <= RUN;
            done <= 1'b0;
            error <= 1'b0;
            ar_addr <= base_addr;
            ar_left <= CNT_W'(N_WORDS);
            r_cnt <= '0;
          end
        end
        RUN: begin
          if (m_axi_gmem_arvalid) begin
            if (m_axi_gmem_arready) begin
              m_axi_gmem_arvalid <= 1'b0;
            end
          end else if (ar_left != '0) begin
            m_axi_gmem_arvalid <= 1'b1;
            m_axi_gmem_araddr <= ar_addr;
            m_axi_gmem_arlen <= 8'(beats - M_W'(1));
            ar_addr <= ar_addr + (ADDR_W'(beats) << LB);
            ar_left <= ar_left - CNT_W'(beats);
          end
          if (r_fire) begin
            r_cnt <= r_cnt + 1'b1;
            if (m_axi_gmem_rresp != 2'b00) begin
              error <= 1'b1;
            end
            if (r_last) begin
              state <= FIN;
            end
          end
        end
        default: begin                                // FIN: the last word is on the bus
          state <= IDLE;
          done <= 1'b1;
        end
      endcase
    end
  end

  always_ff @(posedge clk) begin
    if (r_fire) begin
      wb_addr <= 32'(r_cnt);
      wb_data <= m_axi_gmem_rdata;
    end
  end

  assign busy = (state != IDLE);

  // Beats are counted, not matched to bursts: rid (one ID) and rlast are not needed.
  logic unused_ok;
  assign unused_ok = &{1'b0, m_axi_gmem_rid, m_axi_gmem_rlast};
endmodule
