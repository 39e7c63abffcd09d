"""A guest test to start from (written by `kharness init`): each test runs in a real guest
booted from the kernel of kharness.yaml, driven over SSH.

    pytest . --kharness-config kharness.yaml [--kharness-arch x86_64] [-k ...]

Fixtures (the kharness pytest plugin): `guest` (run commands), `kh` (knob sets applied and
restored, counters, workloads, the collapse model), `knobset` (the config's knob sets, one
run per set), `kernel_features`.
"""

from __future__ import annotations

from harness.guest import workloads
from harness.guest.ssh import Guest
from harness.guest.support import Kh, census_pmds, knobset, settle


def test_guest_runs_commands(guest: Guest) -> None:
    r = guest.run(["cat", "/sys/kernel/mm/transparent_hugepage/enabled"], timeout=30)
    assert r.exit_code == 0 and "madvise" in r.stdout


def test_full_pmds_collapse_to_pmd_folios(kh: Kh) -> None:
    """Two fully populated PMD ranges, khugepaged on: each ends up one PMD folio."""
    env = kh.apply(knobset("pmd", sizes="PMD", max_ptes_none=511))
    meter = kh.start_meter()
    w = kh.start("populate", workloads.region_options("2pmd", "full"))
    want = ({env.pmd_order: env.ptes},) * 2
    got = settle(meter, lambda: kh.census(w), want, w.pid)
    delta = meter.finish()
    assert census_pmds(got) == want, f"census {census_pmds(got)}, want {want}"
    assert delta.pages_collapsed >= 2, f"khugepaged collapsed {delta.pages_collapsed} ranges"
    workloads.verify(kh.guest, w)             # every page still holds what was written

