"""The host drivers of a generated project (host/spvit_driver.py for PYNQ, host/spvit_host.c bare
metal) against the C-simulation model of the same project, with a software stand-in for the board:
a byte-addressed memory with PYNQ-like buffers, the accelerator's AXI-Lite registers and an AXI DMA
(tests/hls_drivers/host_tb.cpp runs the accelerator when the driver starts it, reading the weights
where the driver's port registers point and the pixels from the DMA's buffer).  Logits and kept
counts must equal the golden reference's, image for image.  No board and no PYNQ here: this checks
the drivers' register map use, address arithmetic, pixel packing and result parsing, not the
hardware."""
from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from spvit_fpga.builder.design import design_for
from spvit_fpga.builder.project import build_project, write_project
from spvit_fpga.hls import gxx
from spvit_fpga.hw import source as models
from spvit_fpga.hw.boards import load_board
from spvit_fpga.hw.vectors import make_vectors, read_vectors
from spvit_fpga.nn.data import load_dataset

DRIVERS = Path(__file__).resolve().parent / "hls_drivers"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    src = models.default_model_ir()
    test = load_dataset("digits").test
    vec = make_vectors(src.ir, test.images[:3], test.labels[:3].tolist(), "digits test")
    out = tmp_path_factory.mktemp("host") / "p"
    # two weight ports: the driver must point each at its own region
    write_project(build_project(design_for(src, load_board("zcu102"), ports=2), vec, "test"), out)
    inc = [out / "src", out / "hls", out / "host"]
    binary = gxx.compile_cpp(DRIVERS / "host_tb.cpp", include_dirs=inc, defines={"SPVIT_AXIS_SHIM": None},
                             extra_flags=[f for d in inc for f in ("-iquote", str(d))])
    return out, binary


class _Memory:
    """Byte-addressed DDR: buffers allocated 4 KiB aligned from a base address."""

    def __init__(self, base: int = 0x2000_0000) -> None:
        self.next = base
        self.buffers: list["_Buffer"] = []

    def allocate(self, shape, dtype):
        buf = np.zeros(shape, dtype=dtype).view(_Buffer)
        buf.device_address = self.next
        self.next += -(-buf.nbytes // 4096) * 4096 + 4096
        self.buffers.append(buf)
        return buf

    def read(self, addr: int, nbytes: int) -> bytes:
        for b in self.buffers:
            if b.device_address <= addr and addr + nbytes <= b.device_address + b.nbytes:
                off = addr - b.device_address
                return b.view(np.uint8).reshape(-1)[off:off + nbytes].tobytes()
        raise AssertionError(f"no buffer holds 0x{addr:x} .. +{nbytes}")


class _Buffer(np.ndarray):
    device_address = 0
    flushed = 0

    def flush(self):
        self.flushed += 1

    def invalidate(self):
        pass


class _Channel:
    def __init__(self) -> None:
        self.buffer = None

    def transfer(self, buf) -> None:
        self.buffer = buf

    def wait(self) -> None:
        pass


class _Overlay:
    """spvit (the accelerator's registers; CTRL start runs the C-simulation model) and dma."""

    def __init__(self, memory: _Memory, binary: Path, work: Path, regs: dict, ports: int, region: int) -> None:
        self.memory, self.binary, self.work = memory, binary, work
        self.regs, self.ports, self.region = regs, ports, region
        self.values: dict[int, int] = {}
        self.done = False
        self.starts = 0
        self.dma = type("dma", (), {})()
        self.dma.sendchannel, self.dma.recvchannel = _Channel(), _Channel()
        self.spvit = self

    def write(self, off: int, value: int) -> None:
        self.values[off] = int(value)
        if off == self.regs["CTRL"] and value & 1:
            self.starts += 1
            self._run()

    def read(self, off: int) -> int:
        if off == self.regs["CTRL"]:
            v = 0x4 | (0x2 if self.done else 0)
            self.done = False  # ap_done is clear-on-read
            return v
        return self.values.get(off, 0)

    def _run(self) -> None:
        for i in range(self.ports):
            addr = self.values[self.regs[f"W{i}_LO"]] | self.values[self.regs[f"W{i}_HI"]] << 32
            (self.work / f"port{i}.bin").write_bytes(self.memory.read(addr, self.region))
        pix = self.dma.sendchannel.buffer
        (self.work / "pixels.bin").write_bytes(np.asarray(pix).tobytes())
        proc = subprocess.run([str(self.binary), str(self.work), "model"], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        res = np.fromfile(self.work / "results.i64", dtype="<i8")
        out = self.dma.recvchannel.buffer
        out[:] = res.astype(np.uint32)
        self.done = True


def _driver(project_dir: Path):
    spec = importlib.util.spec_from_file_location("spvit_driver_under_test", project_dir / "host" / "spvit_driver.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _board(project, work: Path):
    """(driver module, test vectors, memory, overlay stand-in, the driver's accelerator object)."""
    out, binary = project
    drv = _driver(out)
    mem = _Memory()
    ov = _Overlay(mem, binary, work, drv.REGS, drv.WEIGHT_PORTS, drv.REGION_BYTES)
    return drv, read_vectors(out), mem, ov, drv.SpvitAccelerator(ov, str(out / "weights.bin"), allocate=mem.allocate)


def test_pynq_driver_against_the_csim_model(project, tmp_path):
    drv, vec, mem, ov, acc = _board(project, tmp_path)
    assert drv.WEIGHT_PORTS == 2 and acc.wbuf.flushed == 1
    # port i points at region i of the weight buffer
    base = int(acc.wbuf.device_address)
    for i in range(2):
        assert ov.values[drv.REGS[f"W{i}_LO"]] | ov.values[drv.REGS[f"W{i}_HI"]] << 32 == base + i * drv.REGION_BYTES
    for i in range(len(vec)):
        logits, kept = acc.run(vec.images[i].reshape(drv.IMG_SHAPE))
        assert_array_equal(logits, vec.logits[i])
        assert_array_equal(kept, vec.kept[i])
    assert ov.starts == len(vec)
    with pytest.raises(ValueError, match="pixels"):
        acc.run(np.zeros(5))
    with pytest.raises(ValueError, match="weights image has 3 bytes"):
        drv.SpvitAccelerator(ov, np.zeros(3, np.uint8), allocate=mem.allocate)


def test_pynq_driver_swapped_regions_are_caught(project, tmp_path):
    """The stand-in is not vacuous: a driver that points both ports at region 0 gets wrong logits."""
    drv, vec, _mem, ov, acc = _board(project, tmp_path)
    ov.values[drv.REGS["W1_LO"]] = ov.values[drv.REGS["W0_LO"]]
    ov.values[drv.REGS["W1_HI"]] = ov.values[drv.REGS["W0_HI"]]
    logits, _ = acc.run(vec.images[0])
    assert not np.array_equal(logits, vec.logits[0])


def test_bare_metal_example_against_the_csim_model(project):
    """host/spvit_host.c programs the software SoC (register file, simple-mode DMA, memory); every
    test image's logits and kept counts equal the reference's."""
    out, binary = project
    proc = subprocess.run([str(binary), str(out), "c"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    vec = read_vectors(out)
    status = np.fromfile(out / "c_status.i64", dtype="<i8")
    assert_array_equal(status, np.zeros(len(vec)))
    assert_array_equal(np.fromfile(out / "c_logits.i64", dtype="<i8").reshape(vec.logits.shape), vec.logits)
    assert_array_equal(np.fromfile(out / "c_kept.i64", dtype="<i8").reshape(vec.kept.shape), vec.kept)
