"""QEMU: accelerator choice, argv, QMP, the console, the VM lifecycle."""
