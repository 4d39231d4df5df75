// spvit_axis.h -- AXI4-Stream word type of a generated spvit_fpga HLS project.
//
// Vitis HLS / Vivado HLS ship ap_axi_sdata.h (ap_axiu<D, U, TI, TD>: TDATA plus the TKEEP, TSTRB,
// TUSER, TLAST, TID, TDEST side channels).  The open-source ap_types used for the g++ C-simulation
// do not; there the build defines SPVIT_AXIS_SHIM and this header provides a struct with the same
// member names, which is all the top function and the testbench use.
#ifndef SPVIT_AXIS_H
#define SPVIT_AXIS_H

#include <ap_int.h>

#ifdef SPVIT_AXIS_SHIM
template <int D, int U, int TI, int TD>
struct ap_axiu {
  ap_uint<D> data;
  ap_uint<(D + 7) / 8> keep;
  ap_uint<(D + 7) / 8> strb;
  ap_uint<(U > 0 ? U : 1)> user;
  ap_uint<1> last;
  ap_uint<(TI > 0 ? TI : 1)> id;
  ap_uint<(TD > 0 ? TD : 1)> dest;
};
#else
#include <ap_axi_sdata.h>
#endif

#endif  // SPVIT_AXIS_H
