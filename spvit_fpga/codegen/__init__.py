"""HLS code generation: IR + board -> a complete Vitis/Vivado HLS project (see docs/hls_backend.md).

* :mod:`.plan`      the design plan: GEMM engines, frame buffers, constant arrays, the op sequence
* :mod:`.estimate`  cycle estimates of the generated kernels (beside the cost model's)
* :mod:`.render`    the Jinja2 templates (``spvit_fpga/templates/hls``) -> project files
* :mod:`.project`   manifest, atomic write of the project directory
* :mod:`.csim`      g++ C-simulation of a generated project and its bit-exact comparison

Where the IR comes from and the test vectors are :mod:`spvit_fpga.hw.source` and
:mod:`spvit_fpga.hw.vectors`.
"""
