"""The host's TSC rate, for x86_64 guests under TCG on machines without a reference timer.

Under TCG a guest's RDTSC reads the host's TSC (QEMU's cycle counter), so the guest TSC
runs at the host's rate. QEMU's microvm has no HPET and no ACPI PM timer: the guest can
only calibrate its TSC against the PIT in a ~1 ms window, which fails whenever the host
is busy ("tsc: Fast TSC calibration failed" -> "Marking TSC unstable", jiffies clock,
very slow boots). Passing `tsc_early_khz=` skips that calibration.

The rate is measured here: RDTSC executed through ctypes (ten bytes of machine code in an
executable mapping) against CLOCK_MONOTONIC_RAW over ~50 ms, three times, median.
Only on x86_64 hosts; None elsewhere or when the mapping is refused (then the guest
calibrates by itself, as on real hardware).
"""

from __future__ import annotations

import ctypes
import functools
import mmap
import platform
import statistics
import time
from collections.abc import Callable

# rdtsc; shl rdx, 32; or rax, rdx; ret
_RDTSC = bytes([0x0F, 0x31, 0x48, 0xC1, 0xE2, 0x20, 0x48, 0x09, 0xD0, 0xC3])


def _rdtsc_function() -> tuple[mmap.mmap, Callable[[], int]] | None:
    try:
        page = mmap.mmap(-1, mmap.PAGESIZE,
                         prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    except (OSError, ValueError, AttributeError):
        return None
    page.write(_RDTSC)
    address = ctypes.addressof(ctypes.c_char.from_buffer(page))
    function: Callable[[], int] = ctypes.CFUNCTYPE(ctypes.c_uint64)(address)
    return page, function


def khz_from(ticks: int, nanoseconds: int) -> int:
    return round(ticks * 1_000_000 / nanoseconds)


@functools.cache
def host_tsc_khz(window: float = 0.05) -> int | None:
    """The host TSC frequency in kHz (x86_64 hosts), else None. Cached per process."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    made = _rdtsc_function()
    if made is None:
        return None
    page, rdtsc = made
    samples = []
    for _ in range(3):
        t0, c0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC_RAW), rdtsc()
        time.sleep(window)
        t1, c1 = time.clock_gettime_ns(time.CLOCK_MONOTONIC_RAW), rdtsc()
        samples.append(khz_from(c1 - c0, t1 - t0))
    del rdtsc
    page.close()
    khz = round(statistics.median(samples))
    return khz if 100_000 <= khz <= 10_000_000 else None
