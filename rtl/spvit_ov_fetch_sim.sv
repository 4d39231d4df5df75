// spvit_ov_fetch_sim: simulation harness -- spvit_ov_fetch reading spvit_ov_ddr_model (SIMULATION ONLY).
//
// The fetch's four AXI4 read bundles are wired to the model's NP slave ports (bundles i >= NP get
// arready = rvalid = 0).  For the cocotb benches (rtl_sim/tb_ov_ddr.py) the harness also brings
// out, per port p (lane p of each vector), what happens on the AXI channels in this cycle:
// mon_ar_fire (AR handshake) with mon_araddr / mon_arlen, mon_r_fire (R handshake) with mon_rlast
// and mon_rresp, and mon_r_stall (rvalid while rready is low: the fetch's credits make it 0).
// Parameters: the fetch's (NP, PB, ADDR_W, BEATS_W, MAX_BURST, OUTSTANDING, FIFO_BEATS) and the
// model's (BASE, MEM_BYTES, FILE, LATENCY, BUDGET_NUM, BUDGET_DEN, AR_DEPTH, SEED); the ports are
// the fetch's control and param-stream ports and the model's test knobs and counters.
module spvit_ov_fetch_sim #(
    parameter int          NP          = 2,       // AXI ports (1..4)
    parameter int          PB          = 16,      // bytes per port beat
    parameter int          ADDR_W      = 40,      // byte-address width
    parameter int          BEATS_W     = 32,      // stream-beat count width
    parameter int          MAX_BURST   = 256,     // most beats per burst
    parameter int          OUTSTANDING = 4,       // fetch: bursts in flight per port
    parameter int          FIFO_BEATS  = 512,     // fetch: FIFO words per port
    parameter logic [63:0] BASE        = 64'h0,   // model: address of memory byte 0
    parameter int          MEM_BYTES   = 1 << 20, // model: memory bytes
    parameter              FILE        = "",      // model: binary file loaded at BASE
    parameter int          LATENCY     = 40,      // model: AR -> first R handshake
    parameter int          BUDGET_NUM  = 512,     // model: shared budget numerator
    parameter int          BUDGET_DEN  = 10,      // model: shared budget denominator
    parameter int          AR_DEPTH    = 8,       // model: bursts a port holds
    parameter int          SEED        = 1        // model: pause seed
) (
    input  logic                  clk,
    input  logic                  rst_n,
    input  logic                  start,          // fetch control (see spvit_ov_fetch)
    input  logic [ADDR_W-1:0]     base,
    input  logic [ADDR_W-1:0]     region_bytes,
    input  logic [BEATS_W-1:0]    beats,
    output logic                  busy,
    output logic                  done,
    output logic                  error,
    output logic [NP*PB*8-1:0]    ps_tdata,       // param stream
    output logic                  ps_tvalid,
    input  logic                  ps_tready,
    input  logic [6:0]            pause_ar,       // model knobs (see spvit_ov_ddr_model)
    input  logic [6:0]            pause_r,
    input  logic                  err_en,
    input  logic [ADDR_W-1:0]     err_addr,
    output logic [63:0]           served_bytes,   // model counters
    output logic [31:0]           file_bytes,
    output logic [NP-1:0]         mon_ar_fire,    // AR handshake this cycle
    output logic [NP*ADDR_W-1:0]  mon_araddr,     //   its address
    output logic [NP*8-1:0]       mon_arlen,      //   its arlen
    output logic [NP*3-1:0]       mon_arsize,     //   its arsize
    output logic [NP*2-1:0]       mon_arburst,    //   its arburst
    output logic [NP*4-1:0]       mon_arcache,    //   its arcache
    output logic [NP-1:0]         mon_r_fire,     // R handshake this cycle
    output logic [NP-1:0]         mon_rlast,      //   its rlast
    output logic [NP*2-1:0]       mon_rresp,      //   its rresp
    output logic [NP-1:0]         mon_r_stall     // rvalid && !rready
);
  localparam int W = PB * 8;

  logic arid[4];
  logic [ADDR_W-1:0] araddr[4];
  logic [8-1:0] arlen[4];
  logic [3-1:0] arsize[4];
  logic [2-1:0] arburst[4];
  logic arlock[4];
  logic [4-1:0] arcache[4];
  logic [3-1:0] arprot[4];
  logic [4-1:0] arqos[4];
  logic arvalid[4];
  logic arready[4];
  logic rid[4];
  logic [W-1:0] rdata[4];
  logic [2-1:0] rresp[4];
  logic rlast[4];
  logic rvalid[4];
  logic rready[4];

  spvit_ov_fetch #(
      .NP(NP),
      .PB(PB),
      .ADDR_W(ADDR_W),
      .BEATS_W(BEATS_W),
      .MAX_BURST(MAX_BURST),
      .OUTSTANDING(OUTSTANDING),
      .FIFO_BEATS(FIFO_BEATS),
      .ID_W(1)
  ) u_fetch (
      .clk(clk),
      .rst_n(rst_n),
      .start(start),
      .base(base),
      .region_bytes(region_bytes),
      .beats(beats),
      .busy(busy),
      .done(done),
      .error(error),
      .ps_tdata(ps_tdata),
      .ps_tvalid(ps_tvalid),
      .ps_tready(ps_tready),
      .m_axi_gmem0_arid(arid[0]),
      .m_axi_gmem0_araddr(araddr[0]),
      .m_axi_gmem0_arlen(arlen[0]),
      .m_axi_gmem0_arsize(arsize[0]),
      .m_axi_gmem0_arburst(arburst[0]),
      .m_axi_gmem0_arlock(arlock[0]),
      .m_axi_gmem0_arcache(arcache[0]),
      .m_axi_gmem0_arprot(arprot[0]),
      .m_axi_gmem0_arqos(arqos[0]),
      .m_axi_gmem0_arvalid(arvalid[0]),
      .m_axi_gmem0_arready(arready[0]),
      .m_axi_gmem0_rid(rid[0]),
      .m_axi_gmem0_rdata(rdata[0]),
      .m_axi_gmem0_rresp(rresp[0]),
      .m_axi_gmem0_rlast(rlast[0]),
      .m_axi_gmem0_rvalid(rvalid[0]),
      .m_axi_gmem0_rready(rready[0]),
      .m_axi_gmem1_arid(arid[1]),
      .m_axi_gmem1_araddr(araddr[1]),
      .m_axi_gmem1_arlen(arlen[1]),
      .m_axi_gmem1_arsize(arsize[1]),
      .m_axi_gmem1_arburst(arburst[1]),
      .m_axi_gmem1_arlock(arlock[1]),
      .m_axi_gmem1_arcache(arcache[1]),
      .m_axi_gmem1_arprot(arprot[1]),
      .m_axi_gmem1_arqos(arqos[1]),
      .m_axi_gmem1_arvalid(arvalid[1]),
      .m_axi_gmem1_arready(arready[1]),
      .m_axi_gmem1_rid(rid[1]),
      .m_axi_gmem1_rdata(rdata[1]),
      .m_axi_gmem1_rresp(rresp[1]),
      .m_axi_gmem1_rlast(rlast[1]),
      .m_axi_gmem1_rvalid(rvalid[1]),
      .m_axi_gmem1_rready(rready[1]),
      .m_axi_gmem2_arid(arid[2]),
      .m_axi_gmem2_araddr(araddr[2]),
      .m_axi_gmem2_arlen(arlen[2]),
      .m_axi_gmem2_arsize(arsize[2]),
      .m_axi_gmem2_arburst(arburst[2]),
      .m_axi_gmem2_arlock(arlock[2]),
      .m_axi_gmem2_arcache(arcache[2]),
      .m_axi_gmem2_arprot(arprot[2]),
      .m_axi_gmem2_arqos(arqos[2]),
      .m_axi_gmem2_arvalid(arvalid[2]),
      .m_axi_gmem2_arready(arready[2]),
      .m_axi_gmem2_rid(rid[2]),
      .m_axi_gmem2_rdata(rdata[2]),
      .m_axi_gmem2_rresp(rresp[2]),
      .m_axi_gmem2_rlast(rlast[2]),
      .m_axi_gmem2_rvalid(rvalid[2]),
      .m_axi_gmem2_rready(rready[2]),
      .m_axi_gmem3_arid(arid[3]),
      .m_axi_gmem3_araddr(araddr[3]),
      .m_axi_gmem3_arlen(arlen[3]),
      .m_axi_gmem3_arsize(arsize[3]),
      .m_axi_gmem3_arburst(arburst[3]),
      .m_axi_gmem3_arlock(arlock[3]),
      .m_axi_gmem3_arcache(arcache[3]),
      .m_axi_gmem3_arprot(arprot[3]),
      .m_axi_gmem3_arqos(arqos[3]),
      .m_axi_gmem3_arvalid(arvalid[3]),
      .m_axi_gmem3_arready(arready[3]),
      .m_axi_gmem3_rid(rid[3]),
      .m_axi_gmem3_rdata(rdata[3]),
      .m_axi_gmem3_rresp(rresp[3]),
      .m_axi_gmem3_rlast(rlast[3]),
      .m_axi_gmem3_rvalid(rvalid[3]),
      .m_axi_gmem3_rready(rready[3])
  );

  logic [NP-1:0] s_arid, s_rid;
  logic [NP*ADDR_W-1:0] s_araddr;
  logic [NP*8-1:0] s_arlen;
  logic [NP*3-1:0] s_arsize;
  logic [NP*2-1:0] s_arburst, s_rresp;
  logic [NP-1:0] s_arvalid, s_arready, s_rlast, s_rvalid, s_rready;
  logic [NP*W-1:0] s_rdata;

  for (genvar i = 0; i < 4; i++) begin : g_wire
    if (i < NP) begin : g_on
      assign s_arid[i] = arid[i];
      assign s_araddr[i*ADDR_W+:ADDR_W] = araddr[i];
      assign s_arlen[i*8+:8] = arlen[i];
      assign s_arsize[i*3+:3] = arsize[i];
      assign s_arburst[i*2+:2] = arburst[i];
      assign s_arvalid[i] = arvalid[i];
      assign s_rready[i] = rready[i];
      assign arready[i] = s_arready[i];
      assign rid[i] = s_rid[i];
      assign rdata[i] = s_rdata[i*W+:W];
      assign rresp[i] = s_rresp[i*2+:2];
      assign rlast[i] = s_rlast[i];
      assign rvalid[i] = s_rvalid[i];
      assign mon_ar_fire[i] = arvalid[i] && arready[i];
      assign mon_araddr[i*ADDR_W+:ADDR_W] = araddr[i];
      assign mon_arlen[i*8+:8] = arlen[i];
      assign mon_arsize[i*3+:3] = arsize[i];
      assign mon_arburst[i*2+:2] = arburst[i];
      assign mon_arcache[i*4+:4] = arcache[i];
      assign mon_r_fire[i] = rvalid[i] && rready[i];
      assign mon_rlast[i] = rlast[i];
      assign mon_rresp[i*2+:2] = rresp[i];
      assign mon_r_stall[i] = rvalid[i] && !rready[i];
    end else begin : g_off
      assign arready[i] = 1'b0;
      assign rid[i] = 1'b0;
      assign rdata[i] = '0;
      assign rresp[i] = '0;
      assign rlast[i] = 1'b0;
      assign rvalid[i] = 1'b0;
    end
  end

  spvit_ov_ddr_model #(
      .NP(NP),
      .PB(PB),
      .ADDR_W(ADDR_W),
      .ID_W(1),
      .BASE(BASE),
      .MEM_BYTES(MEM_BYTES),
      .FILE(FILE),
      .LATENCY(LATENCY),
      .BUDGET_NUM(BUDGET_NUM),
      .BUDGET_DEN(BUDGET_DEN),
      .AR_DEPTH(AR_DEPTH),
      .SEED(SEED)
  ) u_ddr (
      .clk(clk),
      .rst_n(rst_n),
      .s_axi_arid(s_arid),
      .s_axi_araddr(s_araddr),
      .s_axi_arlen(s_arlen),
      .s_axi_arsize(s_arsize),
      .s_axi_arburst(s_arburst),
      .s_axi_arvalid(s_arvalid),
      .s_axi_arready(s_arready),
      .s_axi_rid(s_rid),
      .s_axi_rdata(s_rdata),
      .s_axi_rresp(s_rresp),
      .s_axi_rlast(s_rlast),
      .s_axi_rvalid(s_rvalid),
      .s_axi_rready(s_rready),
      .pause_ar(pause_ar),
      .pause_r(pause_r),
      .err_en(err_en),
      .err_addr(err_addr),
      .served_bytes(served_bytes),
      .file_bytes(file_bytes)
  );

  // lock/prot/qos are constant zero (checked by the fetch's own bench on AxiRamRead)
  logic unused_ok;
  assign unused_ok = &{1'b0, arlock[0], arlock[1], arlock[2], arlock[3], arprot[0], arprot[1], arprot[2],
                       arprot[3], arqos[0], arqos[1], arqos[2], arqos[3]};
endmodule
