// C-simulation stand-in for the board behind the host drivers of a generated project
// (tests/test_host_driver.py).  Compiled with the project's src/, hls/ and host/ on the include path.
//
//   host_tb DIR model   the accelerator behind its AXI ports, for the PYNQ driver's fake overlay:
//                       DIR/port<i>.bin (the bytes the driver's weight-port addresses point at),
//                       DIR/pixels.bin (the MM2S buffer) -> DIR/results.i64 (the S2MM words)
//   host_tb DIR c       the bare-metal example host/spvit_host.c against a software SoC: a byte
//                       memory, the accelerator's AXI-Lite registers and an AXI DMA in simple mode
//                       (the example's register writes start the transfers and the accelerator);
//                       runs every test image of DIR/tb/vectors and writes DIR/c_logits.i64,
//                       DIR/c_kept.i64 and DIR/c_status.i64 (spvit_run's return codes)
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "spvit_regs.h"
#include "spvit_tb_io.h"
#include "spvit_top.cpp"

static std::vector<unsigned char> read_file(const std::string& path) {
  std::ifstream f(path.c_str(), std::ios::binary | std::ios::ate);
  if (!f) {
    std::fprintf(stderr, "host_tb: cannot open %s\n", path.c_str());
    std::exit(3);
  }
  std::vector<unsigned char> v(static_cast<size_t>(f.tellg()));
  f.seekg(0);
  if (!v.empty()) f.read(reinterpret_cast<char*>(&v[0]), v.size());
  return v;
}

// One image through the top function: port regions and pixel bytes in, 32-bit result words out.
static std::vector<uint32_t> accelerate(const std::vector<const unsigned char*>& ports, const unsigned char* pixels) {
  const int PB = spvit_cfg::PB;
  std::vector<std::vector<wport_t> > region(WEIGHT_PORTS, std::vector<wport_t>(REGION_BYTES / PB));
  for (int p = 0; p < WEIGHT_PORTS; p++)
    for (long long k = 0; k < REGION_BYTES / PB; k++) {
      wport_t w = 0;
      for (int b = 0; b < PB; b++) w.range(8 * b + 7, 8 * b) = ports[p][k * PB + b];
      region[p][k] = w;
    }
  hls::stream<pix_axis_t> in;
  hls::stream<out_axis_t> out;
  for (int i = 0; i < IN_WORDS; i++) {
    pix_axis_t word;
    word.data = 0;
    for (int b = 0; b < spvit_cfg::PIX; b++) word.data.range(8 * b + 7, 8 * b) = pixels[i * spvit_cfg::PIX + b];
    word.keep = -1;
    word.strb = -1;
    word.last = i == IN_WORDS - 1;
    in.write(word);
  }
#if SPVIT_WEIGHT_PORTS == 1
  spvit_top(in, out, &region[0][0]);
#elif SPVIT_WEIGHT_PORTS == 2
  spvit_top(in, out, &region[0][0], &region[1][0]);
#elif SPVIT_WEIGHT_PORTS == 3
  spvit_top(in, out, &region[0][0], &region[1][0], &region[2][0]);
#else
  spvit_top(in, out, &region[0][0], &region[1][0], &region[2][0], &region[3][0]);
#endif
  std::vector<uint32_t> res;
  while (!out.empty()) res.push_back((uint32_t)out.read().data);
  return res;
}

// ---- a software SoC for the bare-metal example ----------------------------------------------------
static const uint64_t MEM_BASE = 0x40000000ull, ACC = 0xA0000000ull, DMA = 0xA0010000ull;
static std::vector<unsigned char> g_mem;
static std::map<uint64_t, uint32_t> g_reg;
static bool g_done = false, g_s2mm_idle = false;

static unsigned char* mem_at(uint64_t addr, uint64_t bytes) {
  if (addr < MEM_BASE || addr + bytes > MEM_BASE + g_mem.size()) {
    std::fprintf(stderr, "host_tb: access outside memory at 0x%llx\n", (unsigned long long)addr);
    std::exit(5);
  }
  return &g_mem[addr - MEM_BASE];
}

static uint64_t reg64(uint64_t lo, uint64_t hi) { return (uint64_t)g_reg[lo] | ((uint64_t)g_reg[hi] << 32); }

static void soc_start() {
  static const uint32_t lo[] = {SPVIT_PORT_LO};
  static const uint32_t hi[] = {SPVIT_PORT_HI};
  std::vector<const unsigned char*> ports;
  for (int p = 0; p < WEIGHT_PORTS; p++)
    ports.push_back(mem_at(reg64(ACC + lo[p], ACC + hi[p]), (uint64_t)REGION_BYTES));
  // the DMA must have been started: MM2S with the pixel buffer, S2MM with room for the results
  if (!(g_reg[DMA + 0x00] & 1) || !(g_reg[DMA + 0x30] & 1) || g_reg[DMA + 0x28] != (uint32_t)(IN_WORDS * spvit_cfg::PIX) ||
      g_reg[DMA + 0x58] < 4u * OUT_WORDS) {
    std::fprintf(stderr, "host_tb: DMA not set up for an image\n");
    std::exit(6);
  }
  const std::vector<uint32_t> res =
      accelerate(ports, mem_at(reg64(DMA + 0x18, DMA + 0x1C), IN_WORDS * spvit_cfg::PIX));
  std::memcpy(mem_at(reg64(DMA + 0x48, DMA + 0x4C), 4 * res.size()), &res[0], 4 * res.size());
  g_done = true;
  g_s2mm_idle = true;
}

static void soc_write(uint64_t addr, uint32_t v) {
  g_reg[addr] = v;
  if (addr == DMA + 0x58) g_s2mm_idle = false;  // a new S2MM transfer
  if (addr == ACC + SPVIT_REG_CTRL && (v & SPVIT_CTRL_START)) soc_start();
}

static uint32_t soc_read(uint64_t addr) {
  if (addr == ACC + SPVIT_REG_CTRL) {  // ap_done is clear-on-read
    const uint32_t v = SPVIT_CTRL_IDLE | (g_done ? SPVIT_CTRL_DONE : 0u);
    g_done = false;
    return v;
  }
  if (addr == DMA + 0x34) return g_s2mm_idle ? 0x2u : 0x0u;
  return g_reg[addr];
}

#define SPVIT_WR32(addr, v) soc_write((uint64_t)(addr), (uint32_t)(v))
#define SPVIT_RD32(addr) soc_read((uint64_t)(addr))
#include "spvit_host.c"

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  const std::string dir = argv[1], mode = argv[2];
  if (mode == "model") {
    std::vector<std::vector<unsigned char> > data;
    std::vector<const unsigned char*> ports;
    for (int p = 0; p < WEIGHT_PORTS; p++) data.push_back(read_file(dir + "/port" + std::to_string(p) + ".bin"));
    for (int p = 0; p < WEIGHT_PORTS; p++) {
      if ((long long)data[p].size() != REGION_BYTES) return 4;
      ports.push_back(&data[p][0]);
    }
    const std::vector<unsigned char> pix = read_file(dir + "/pixels.bin");
    if ((int)pix.size() != IN_WORDS * spvit_cfg::PIX) return 4;
    const std::vector<uint32_t> res = accelerate(ports, &pix[0]);
    spvit_tb::array_t out(res.begin(), res.end());
    spvit_tb::write_array(dir, "results", out);
    return 0;
  }
  // the bare-metal example
  const std::vector<unsigned char> weights = read_file(dir + "/weights.bin");
  const spvit_tb::array_t meta = spvit_tb::read_array(dir + "/tb/vectors", "meta");
  const spvit_tb::array_t images = spvit_tb::read_array(dir + "/tb/vectors", "images");
  const uint64_t w_addr = MEM_BASE + 0x3000, pix_addr = w_addr + weights.size() + 0x1000, res_addr = pix_addr + 0x100000;
  g_mem.assign(res_addr - MEM_BASE + 4096, 0xA5);
  std::memcpy(mem_at(w_addr, weights.size()), &weights[0], weights.size());
  spvit_set_weights(ACC, w_addr);
  spvit_tb::array_t logits, kept, status;
  std::vector<int32_t> img(SPVIT_IMG_PIXELS);
  for (long long i = 0; i < meta[0]; i++) {
    for (int k = 0; k < SPVIT_IMG_PIXELS; k++) img[k] = (int32_t)images[i * SPVIT_IMG_PIXELS + k];
    spvit_pack_pixels(&img[0], mem_at(pix_addr, SPVIT_IN_BYTES));
    status.push_back(spvit_run(ACC, DMA, pix_addr, res_addr, 1000));
    int64_t lg[SPVIT_CLASSES], kp[SPVIT_STAGES > 0 ? SPVIT_STAGES : 1];
    spvit_split_results(reinterpret_cast<const uint32_t*>(mem_at(res_addr, 4 * SPVIT_OUT_WORDS)), lg, kp);
    for (int m = 0; m < SPVIT_CLASSES; m++) logits.push_back(lg[m]);
    for (int s = 0; s < SPVIT_STAGES; s++) kept.push_back(kp[s]);
  }
  spvit_tb::write_array(dir, "c_logits", logits);
  spvit_tb::write_array(dir, "c_kept", kept);
  spvit_tb::write_array(dir, "c_status", status);
  return 0;
}
