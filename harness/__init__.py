"""kharness: pytest-native harness testing real Linux kernels in QEMU for mm developers."""

__version__ = "0.1.0"
