"""The kernel's own tools/testing/selftests/mm/khugepaged, built from the tree under test
(the build's commit, git archive of tools/) and run in the guest with anonymous memory
and the smallest mTHP size for faults (-s ORDER).

`madvise:anon` (MADV_COLLAPSE; no timing assumptions) always runs. `khugepaged:anon`
assumes khugepaged (scan_sleep 10 ms) collapses within two full scans / 3 s and never
between two of the test's own steps; under TCG neither holds reliably (seen here:
"Unexpected huge page" bail-outs in collapse_max_ptes_swap / _shared, and a PMD with 64
swap ptes not collapsed in time), so it runs only on KVM.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from harness import arch as archmod
from harness.errors import InfrastructureError
from harness.guest import knobs, workloads
from harness.guest.counters import CounterDelta
from harness.guest.support import Kh, selftest_tree
from harness.image import guestbin
from harness.machine import accel
from harness.sources import tree as source
from harness.util import cache_dir


def _binary(kernel: Any, cfg: Any) -> Path:
    """The selftest of the build's commit, compiled for its arch (cached). A tree whose
    selftest does not compile fails the test (a defect of the tree, not of the rig)."""
    commit = kernel.metadata()["commit"]
    out = cache_dir("selftest-bin", commit, kernel.arch) / "khugepaged"
    if not out.exists():
        tree = selftest_tree(source.resolve(cfg.source).repo, commit)
        try:
            guestbin.build_selftest_khugepaged(tree, kernel.arch, out)
        except InfrastructureError as e:
            if not e.what.startswith("command failed"):
                raise                       # no cross compiler etc.: the rig
            pytest.fail("tools/testing/selftests/mm/khugepaged.c of the tree under test does "
                        f"not compile: {e.why[-600:]}", pytrace=False)
    return out


EXTREME = "collapse_compound_extreme"


def _too_big_for_the_page(out: str, page_size: int) -> bool:
    """The bail-out came from collapse_compound_extreme on a page size above 4K."""
    last = out[:out.find("Bail out!")].rfind("# Run test: ")
    return page_size > 4096 and last >= 0 and out.startswith(f"# Run test: {EXTREME}", last)


def _accel(arch: str, kernel: Any) -> str:
    """The accelerator the guest of this kernel gets (the VM's own choice, cached probe)."""
    return accel.select(archmod.get(arch), kernel.image)


def _no_pmd_block(delta: CounterDelta, pmd_kb: int) -> str:
    """Why a failed case may be the guest's memory, not the kernel: PMD-size allocations for
    the collapse failed (and compaction with them)."""
    failed = delta.stat(pmd_kb, "collapse_alloc_failed")
    if not failed:
        return ""
    return (f"; {knobs.size_label(pmd_kb)} collapse_alloc_failed +{failed}, compact_fail "
            f"+{delta.vmstat.get('compact_fail', 0)}: the guest had no free PMD-size block")


@pytest.mark.fresh_guest(
    min_page_size=16384,
    reason="collapse_full collapses 4 PMDs at once (4 x 512M with 64K pages): after the "
           "earlier tests a shared guest's memory may have no free PMD-size block left")
@pytest.mark.parametrize("context", ["madvise:anon", "khugepaged:anon"])
def test_kernel_selftest_khugepaged(request: pytest.FixtureRequest, kharness: Any,
                                    kh_target: Any, kernel: Any, context: str) -> None:
    if context.startswith("khugepaged") and _accel(kh_target.arch, kernel) == "tcg":
        pytest.skip("khugepaged context: its timing assumptions do not hold under TCG")
    kh: Kh = request.getfixturevalue("kh")          # boots the guest only when it runs
    binary = _binary(kh.kernel, kharness.cfg)
    order = min(kh.thp.layout().order(kb) for kb in kh.thp.layout().anon_kb)
    meter = kh.start_meter()
    code, out, totals = workloads.run_selftest_khugepaged(
        kh.guest, binary, ["-s", str(order), context], timeout=300 * kh.vm.scale)
    failed = re.findall(r"^not ok \d+ (.*)$", out, re.MULTILINE)
    bail = re.findall(r"^Bail out! (.*)$", out, re.MULTILINE)
    kh.record["selftest"] = {"args": ["-s", str(order), context], "exit": code,
                             "totals": totals, "failed": failed, "bail_out": bail}
    print(out)
    delta = meter.finish()
    layout = kh.thp.layout()
    if not failed and bail and _too_big_for_the_page(out, layout.page_size):
        nr = layout.pmd_size // layout.page_size
        pytest.skip(f"{EXTREME} faults HPAGE_PMD_NR PMD THPs, each kept mapped: with "
                    f"{layout.page_size >> 10}K pages {nr} x {layout.pmd_size >> 20}M = "
                    f"{nr * layout.pmd_size >> 30}G (4K: 512 x 2M); it bailed out ({bail[0]}) "
                    f"after {totals.get('pass', 0)} passed cases, the later cases did not run")
    assert code == 0 and not failed and not bail, (
        f"selftest khugepaged {context}: exit {code}, failed {failed}, bail out {bail}, "
        f"totals {totals}{_no_pmd_block(delta, layout.pmd_size >> 10)}")
    assert totals.get("pass", 0) > 0
