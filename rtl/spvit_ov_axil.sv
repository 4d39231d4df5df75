// spvit_ov_axil: the overlay engine's AXI4-Lite control slave, with the register map of a Vitis HLS
// block-level ap_ctrl_hs interface (so the host drivers of the HLS design work unchanged) plus
// the weight-image base address, a load-error status and a cycle counter.
//
// Registers (32-bit, byte address; unlisted addresses read 0 and ignore writes; wstrb honoured):
//   0x00 control   bit0 ap_start     R/W, write 1 sets it (0 does nothing); cleared when the start
//                                    pulse is issued, unless auto_restart
//                  bit1 ap_done      R, set by `done`, cleared by a read of 0x00
//                  bit2 ap_idle      R, the `idle` input
//                  bit3 ap_ready     R, set when a start pulse is issued, cleared by a read of 0x00
//                  bit7 auto_restart R/W
//                  bit9 interrupt    R, the `interrupt` output
//   0x04 GIE       bit0 global interrupt enable (R/W)
//   0x08 IER       bit0 enable the ap_done interrupt (R/W)
//   0x0C ISR       bit0 ap_done interrupt status: set by `done` while IER bit0 is 1; a write of 1
//                  toggles it (TOW)
//   0x10 base low  bits 31:0 of the weight-image byte address (R/W)
//   0x14 base high bits ADDR_W-1:32 (R/W; the bits above ADDR_W read 0)
//   0x18 status    bit0 load error: set when the `error` input rises (the weight fetch saw an
//                  error response); cleared by a write to 0x10 or 0x14.  While it is set no start
//                  pulse is issued (ap_start stays pending until the base is rewritten).
//   0x1C cycles    clock cycles of the last image: from the cycle of its start pulse to the cycle
//                  of its done pulse (saturates at 2^32-1), updated at done
// interrupt = GIE & IER[0] & ISR[0] (a register).
//
// Start handshake: a start pulse (one cycle) is issued when ap_start is set, `idle` is high, no
// image is running (a start pulse was issued and its `done` not yet seen) and there is no load
// error; the pulse sets ap_ready and clears ap_start (unless auto_restart).  `done` (one-cycle
// pulse from the controller) ends the running image.
//
// AXI4-Lite: one write and one read at a time.  awready / wready are high while the address /
// data of the next write has not been taken and no response is pending; the register is written
// in the cycle after both were taken and bvalid rises with it (bresp OKAY).  arready is high
// while no read response is pending; rdata (registered, rresp OKAY) is valid from the cycle after
// the AR handshake until rready.  Read side effects (ap_done, ap_ready cleared) happen at the AR
// handshake of 0x00.
//
// Preconditions: 33 <= ADDR_W <= 64; AXIL_AW >= 5; the awaddr/araddr bits 1:0 are ignored.
module spvit_ov_axil #(
    parameter int ADDR_W  = 40,        // weight-image byte-address width
    parameter int AXIL_AW = 6          // AXI-Lite address width (register space 0x00-0x1C)
) (
    input  logic                clk,
    input  logic                rst_n,
    // AXI4-Lite slave
    input  logic [AXIL_AW-1:0]  s_axi_control_awaddr,
    input  logic                s_axi_control_awvalid,
    output logic                s_axi_control_awready,
    input  logic [31:0]         s_axi_control_wdata,
    input  logic [3:0]          s_axi_control_wstrb,
    input  logic                s_axi_control_wvalid,
    output logic                s_axi_control_wready,
    output logic [1:0]          s_axi_control_bresp,
    output logic                s_axi_control_bvalid,
    input  logic                s_axi_control_bready,
    input  logic [AXIL_AW-1:0]  s_axi_control_araddr,
    input  logic                s_axi_control_arvalid,
    output logic                s_axi_control_arready,
    output logic [31:0]         s_axi_control_rdata,
    output logic [1:0]          s_axi_control_rresp,
    output logic                s_axi_control_rvalid,
    input  logic                s_axi_control_rready,
    // engine side
    output logic                start,        // pulse: run one image
    output logic [ADDR_W-1:0]   base,         // weight-image byte address
    input  logic                done,         // pulse: the image is finished
    input  logic                idle,         // the engine is idle
    input  logic                error,        // the weight fetch saw an error response (level)
    // verilator lint_off SYMRSVDWORD
    output logic                interrupt     // the Vitis HLS name (a C++ word: Verilator renames it inside)
    // verilator lint_on SYMRSVDWORD
);
  localparam int HI_W = ADDR_W - 32;

  // ---- registers ---------------------------------------------------------------------------------
  logic ap_start, ap_done, ap_ready, auto_restart, gie, ier, isr, load_err, running, error_q, idle_q;
  logic [31:0] base_lo;
  logic [HI_W-1:0] base_hi;
  logic [31:0] cyc, cyc_last;

  assign base = {base_hi, base_lo};

  // ---- write channel -----------------------------------------------------------------------------
  logic aw_have, w_have, wr;
  logic [AXIL_AW-1:0] waddr;
  logic [31:0] wdata;
  logic [3:0] wstrb;
  logic [2:0] wsel;

  assign s_axi_control_awready = !aw_have && !s_axi_control_bvalid;
  assign s_axi_control_wready = !w_have && !s_axi_control_bvalid;
  assign s_axi_control_bresp = 2'b00;
  assign wr = aw_have && w_have;
  assign wsel = waddr[4:2];

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      aw_have <= 1'b0;
      w_have <= 1'b0;
      s_axi_control_bvalid <= 1'b0;
    end else begin
      if (s_axi_control_awvalid && s_axi_control_awready) begin
        aw_have <= 1'b1;
        waddr <= s_axi_control_awaddr;
      end
      if (s_axi_control_wvalid && s_axi_control_wready) begin
        w_have <= 1'b1;
        wdata <= s_axi_control_wdata;
        wstrb <= s_axi_control_wstrb;
      end
      if (wr) begin
        aw_have <= 1'b0;
        w_have <= 1'b0;
        s_axi_control_bvalid <= 1'b1;
      end else if (s_axi_control_bready) begin
        s_axi_control_bvalid <= 1'b0;
      end
    end
  end

  // the base registers after a write with byte enables
  logic [31:0] base_hi32, lo_new, hi_new;
  assign base_hi32 = 32'(base_hi);
  always_comb begin : p_merge
    for (int k = 0; k < 4; k++) begin
      lo_new[k*8+:8] = wstrb[k] ? wdata[k*8+:8] : base_lo[k*8+:8];
      hi_new[k*8+:8] = wstrb[k] ? wdata[k*8+:8] : base_hi32[k*8+:8];
    end
  end

  // the address is in the 32-byte register space (the bits above bit 4 are zero)
  logic w_in, r_in, hit;
  if (AXIL_AW > 5) begin : g_hi
    assign w_in = (waddr[AXIL_AW-1:5] == '0);
    assign r_in = (s_axi_control_araddr[AXIL_AW-1:5] == '0);
  end else begin : g_nohi
    assign w_in = 1'b1;
    assign r_in = 1'b1;
  end
  assign hit = wr && w_in;

  // ---- read channel ------------------------------------------------------------------------------
  logic rd;
  logic [2:0] rsel;
  logic rhit;
  logic [31:0] rval;

  assign s_axi_control_arready = !s_axi_control_rvalid;
  assign s_axi_control_rresp = 2'b00;
  assign rd = s_axi_control_arvalid && s_axi_control_arready;
  assign rsel = s_axi_control_araddr[4:2];
  assign rhit = r_in;

  always_comb begin : p_rval
    rval = '0;
    if (rhit) begin
      case (rsel)
        3'd0: rval = 32'({interrupt, 1'b0, auto_restart, 3'b000, ap_ready, idle_q, ap_done, ap_start});
        3'd1: rval = 32'(gie);
        3'd2: rval = 32'(ier);
        3'd3: rval = 32'(isr);
        3'd4: rval = base_lo;
        3'd5: rval = 32'(base_hi);
        3'd6: rval = 32'(load_err);
        default: rval = cyc_last;
      endcase
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      s_axi_control_rvalid <= 1'b0;
    end else if (rd) begin
      s_axi_control_rvalid <= 1'b1;
      s_axi_control_rdata <= rval;
    end else if (s_axi_control_rready) begin
      s_axi_control_rvalid <= 1'b0;
    end
  end

  // ---- control -----------------------------------------------------------------------------------
  logic go, rd_ctrl;
  assign go = ap_start && idle_q && !running && !load_err;
  assign rd_ctrl = rd && rhit && (rsel == 3'd0);

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      start <= 1'b0;
      ap_start <= 1'b0;
      ap_done <= 1'b0;
      ap_ready <= 1'b0;
      auto_restart <= 1'b0;
      gie <= 1'b0;
      ier <= 1'b0;
      isr <= 1'b0;
      load_err <= 1'b0;
      running <= 1'b0;
      error_q <= 1'b0;
      idle_q <= 1'b0;
      interrupt <= 1'b0;
      base_lo <= '0;
      base_hi <= '0;
      cyc <= '0;
      cyc_last <= '0;
    end else begin
      idle_q <= idle;
      error_q <= error;
      start <= go;
      interrupt <= gie && ier && isr;
      // ap_start: set by a write of 1, cleared by the start pulse (go) unless auto_restart
      if (hit && wsel == 3'd0 && wstrb[0] && wdata[0]) begin
        ap_start <= 1'b1;
      end else if (go && !auto_restart) begin
        ap_start <= 1'b0;
      end
      if (hit && wsel == 3'd0 && wstrb[0]) begin
        auto_restart <= wdata[7];
      end
      // ap_done / ap_ready: set by the event, cleared by a read of 0x00
      if (done) begin
        ap_done <= 1'b1;
      end else if (rd_ctrl) begin
        ap_done <= 1'b0;
      end
      if (go) begin
        ap_ready <= 1'b1;
      end else if (rd_ctrl) begin
        ap_ready <= 1'b0;
      end
      if (hit && wsel == 3'd1 && wstrb[0]) gie <= wdata[0];
      if (hit && wsel == 3'd2 && wstrb[0]) ier <= wdata[0];
      if (done && ier) begin
        isr <= 1'b1;
      end else if (hit && wsel == 3'd3 && wstrb[0]) begin
        isr <= isr ^ wdata[0];
      end
      if (hit && wsel == 3'd4) base_lo <= lo_new;
      if (hit && wsel == 3'd5) base_hi <= hi_new[HI_W-1:0];
      // load error: set by a rising error, cleared by rewriting the base
      if (error && !error_q) begin
        load_err <= 1'b1;
      end else if (hit && (wsel == 3'd4 || wsel == 3'd5)) begin
        load_err <= 1'b0;
      end
      // the running image and its cycle count
      if (go) begin
        running <= 1'b1;
        cyc <= '0;
      end else if (running) begin
        if (cyc != '1) cyc <= cyc + 1'b1;
        if (done) begin
          running <= 1'b0;
          cyc_last <= cyc;
        end
      end
    end
  end

  // Registers are 32-bit words: the byte offset within a word is not decoded; base high keeps
  // ADDR_W - 32 bits.
  logic unused_ok;
  assign unused_ok = &{1'b0, waddr[1:0], s_axi_control_araddr[1:0], hi_new};
endmodule
