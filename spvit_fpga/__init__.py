"""spvit_fpga: a soft-token-pruned Vision Transformer (SPViT) from training to an FPGA."""

__version__ = "0.1.0"
