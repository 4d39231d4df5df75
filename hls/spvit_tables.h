// spvit_tables.h -- lookup tables on small integer inputs (GELU, sigmoid, any 2^W-entry table).
//
// HLS face of intops.table_lookup / int_gelu / int_sigmoid.  Table contents are never computed in
// hardware: they are built once in Python (intops.gelu_table, sigmoid_table, exp_table,
// rsqrt_table) and passed in as constant arrays, so Python is the single source of truth.
//
// Layout (docs/integer_arithmetic.md §1.4): entry i belongs to input q = min_int + i.  For a signed
// W-bit input the index is q with its sign bit inverted; for an unsigned input it is q itself.
#ifndef SPVIT_TABLES_H
#define SPVIT_TABLES_H

#include "spvit_common.h"

namespace spvit {

// Table index of a signed input: q - min_int = q with the sign bit inverted.
template <
    int W>  // input width
inline ap_uint<W> table_index(ap_int<W> x) {
#pragma HLS inline
  ap_uint<W> i = x;  // same bits
  i[W - 1] = !i[W - 1];
  return i;
}

// Table index of an unsigned input: the input itself.
template <
    int W>  // input width
inline ap_uint<W> table_index(ap_uint<W> x) {
#pragma HLS inline
  return x;
}

// intops.table_lookup(x, table, in_fmt): table[x - min_int]; the table has 2^W entries.
// Storage is the caller's: a ROM (const array) or a BRAM/LUTRAM filled at start-up.
template <
    typename TOUT,  // table entry type
    typename TIN>   // input type (ap_int<W> or ap_uint<W>; the table has 2^W entries)
inline TOUT table_lookup(TIN x, const TOUT table[]) {
#pragma HLS inline
  return table[table_index(x)];
}

// intops.int_gelu: GELU by its table (intops.gelu_table(in_fmt, out_fmt)).
template <
    typename TOUT,  // output type
    typename TIN>   // input type
inline TOUT gelu(TIN x, const TOUT gelu_table[]) {
#pragma HLS inline
  return table_lookup<TOUT>(x, gelu_table);
}

// intops.int_sigmoid: sigmoid by its table (intops.sigmoid_table(in_fmt, out_fmt)).
template <
    typename TOUT,  // output type
    typename TIN>   // input type
inline TOUT sigmoid(TIN x, const TOUT sigmoid_table[]) {
#pragma HLS inline
  return table_lookup<TOUT>(x, sigmoid_table);
}

// Element-wise table over a frame buffer: y[n][c] = table[x[n][c]] for n < n_tokens.
template <
    int C,      // channels per token
    int MAX_N,      // compile-time maximum number of tokens
    typename TIN,   // input type
    typename TOUT>  // table entry / output type
void table_frame(const TIN x[MAX_N][C], TOUT y[MAX_N][C], int n_tokens, const TOUT table[]) {
  for (int n = 0; n < n_tokens; n++) {
#pragma HLS loop_tripcount min = 0 max = MAX_N
    for (int c = 0; c < C; c++) {
#pragma HLS pipeline II = 1
      y[n][c] = table_lookup<TOUT>(x[n][c], table);
    }
  }
}

}  // namespace spvit

#endif  // SPVIT_TABLES_H
