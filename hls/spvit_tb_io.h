// spvit_tb_io.h -- testbench-side I/O for C-simulation binaries (NOT synthesisable).
//
// Protocol shared with spvit_fpga/hls/gxx.py: a binary is run as `prog <dir>`; every input array
// is a file `<dir>/<name>.i64` of raw little-endian int64 values, and every output is written the
// same way.  Shapes are the driver's business (a driver usually reads a small header array).
#ifndef SPVIT_TB_IO_H
#define SPVIT_TB_IO_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace spvit_tb {

typedef std::vector<long long> array_t;

inline std::string array_path(const std::string& dir, const std::string& name) {
  return dir + "/" + name + ".i64";
}

// Read <dir>/<name>.i64 (exits with status 3 and a message if missing or malformed).
inline array_t read_array(const std::string& dir, const std::string& name) {
  std::ifstream f(array_path(dir, name).c_str(), std::ios::binary | std::ios::ate);
  if (!f) {
    std::fprintf(stderr, "spvit_tb: cannot open input %s\n", array_path(dir, name).c_str());
    std::exit(3);
  }
  std::streamsize bytes = f.tellg();
  if (bytes % 8 != 0) {
    std::fprintf(stderr, "spvit_tb: %s is not a whole number of int64\n", name.c_str());
    std::exit(3);
  }
  f.seekg(0);
  array_t v(static_cast<size_t>(bytes / 8));
  std::vector<unsigned char> raw(static_cast<size_t>(bytes));
  if (bytes > 0) f.read(reinterpret_cast<char*>(&raw[0]), bytes);
  for (size_t i = 0; i < v.size(); i++) {
    unsigned long long u = 0;
    for (int b = 7; b >= 0; b--) u = (u << 8) | raw[i * 8 + b];
    v[i] = static_cast<long long>(u);
  }
  return v;
}

// Write <dir>/<name>.i64 (little-endian int64).
inline void write_array(const std::string& dir, const std::string& name, const array_t& v) {
  std::ofstream f(array_path(dir, name).c_str(), std::ios::binary);
  std::vector<unsigned char> raw(v.size() * 8);
  for (size_t i = 0; i < v.size(); i++) {
    unsigned long long u = static_cast<unsigned long long>(v[i]);
    for (int b = 0; b < 8; b++) raw[i * 8 + b] = static_cast<unsigned char>((u >> (8 * b)) & 0xff);
  }
  if (!raw.empty()) f.write(reinterpret_cast<const char*>(&raw[0]), static_cast<std::streamsize>(raw.size()));
  if (!f) {
    std::fprintf(stderr, "spvit_tb: cannot write output %s\n", array_path(dir, name).c_str());
    std::exit(3);
  }
}

// Sequential reader over an input array (exits with status 3 when read past the end).
class Cursor {
 public:
  explicit Cursor(const array_t& data) : data_(data), pos_(0) {}
  long long next() {
    if (pos_ >= data_.size()) {
      std::fprintf(stderr, "spvit_tb: input exhausted after %zu values\n", pos_);
      std::exit(3);
    }
    return data_[pos_++];
  }
  // Next value converted to T; exits if it does not fit T (catches testbench range bugs).
  template <typename T>
  T next_as() {
    const long long v = next();
    const T t = v;
    if (static_cast<long long>(t) != v) {
      std::fprintf(stderr, "spvit_tb: value %lld at position %zu does not fit the kernel type\n", v,
                   pos_ - 1);
      std::exit(3);
    }
    return t;
  }
  template <typename T>
  void fill(T* dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = next_as<T>();
  }
  bool done() const { return pos_ == data_.size(); }
  size_t position() const { return pos_; }

 private:
  const array_t& data_;
  size_t pos_;
};

// Command line: the I/O directory is argv[1].
inline std::string io_dir(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <io-dir>\n", argv[0]);
    std::exit(2);
  }
  return argv[1];
}

}  // namespace spvit_tb

#endif  // SPVIT_TB_IO_H
