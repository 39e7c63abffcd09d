"""kharness: pytest-native harness testing real Linux kernels in QEMU for mm developers.

Subpackages, in the order data flows through a run:

    sources   Debian's archive, the kernel tree, series and worktrees
    kernel    kconfig fragments, make, build slots and the cache, the plan
    checks    per-patch build checks (gcc, clang, sparse, checkpatch, kernel-doc)
    image     guest images from Debian packages (initramfs, root disk, cloud)
    machine   QEMU: accelerator, argv, QMP, console, the VM
    guest     a booted guest: SSH, THP knobs, counters, workloads
    splats    kernel reports on the console
    results   journal, verdicts, history
    campaign  runs over many kernels: run matrix, bisect, reproducers
    report    HTML, charts, JUnit, KCIDB
    plugin    the pytest plugin;  cli  the `kharness` command

Shared by all: errors (the taxonomy), util, arch, config, guestcfg, resources.
"""

__version__ = "0.1.0"
