"""Real kernels: Debian linux-source-7.2, baseline vs the quickstart demo series, both arches."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from harness import config
from harness.errors import UserError
from harness.kernel import build, kconfig
from tests.conftest import QUICKSTART

pytestmark = pytest.mark.integration
DEMO = b"kharness-demo: thread started"


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_patch_lands_only_in_patched(arch: str,
                                     quickstart_kernel: Callable[..., build.BuildResult]) -> None:
    base = quickstart_kernel(arch, "baseline")
    patched = quickstart_kernel(arch, "patched")
    assert DEMO in patched.vmlinux.read_bytes()
    assert DEMO not in base.vmlinux.read_bytes()
    assert base.image.stat().st_size > 1_000_000 and patched.image.exists()
    final = kconfig.read_config(patched.config)
    for opt in ("CONFIG_PROVE_LOCKING", "CONFIG_TRANSPARENT_HUGEPAGE", "CONFIG_ZRAM",
                "CONFIG_ADVISE_SYSCALLS", "CONFIG_DEBUG_VM", "CONFIG_SMP"):
        assert final.get(opt) == "y", opt
    meta = patched.metadata()
    assert meta["source"]["package"] == "linux-source-7.2"
    assert meta["series"]["version"] == "v1" and meta["config_sha256"]
    t0 = time.monotonic()
    again = quickstart_kernel(arch, "patched")
    assert again.cached and time.monotonic() - t0 < 2.0


def test_real_dropped_option_names_dependency() -> None:
    cfg = config.load(QUICKSTART)
    req = build.request_for(cfg, cfg.variant("baseline"), "x86_64",
                            extra_options=("CONFIG_MEMORY_HOTREMOVE=y",))
    with pytest.raises(UserError) as e:   # (NUMA_BALANCING, used before, is now in `racers`)
        build.build(req)
    assert "CONFIG_MEMORY_HOTREMOVE=y was dropped" in str(e.value)
    assert "MEMORY_HOTPLUG=n" in str(e.value)
