"""The splat guard end to end, with a real kernel warning reachable from user space.

Splitting an anonymous large folio to order 1 through debugfs (split_huge_pages, as
`thpwork --split-to 1` does) makes __folio_split() -> folio_check_splittable() return
-EINVAL ("order-1 is not supported for anonymous THP"), and __folio_split() reports that
with VM_WARN_ONCE(ret == -EINVAL, "Tried to split an unsplittable folio") under
CONFIG_DEBUG_VM: a WARNING splat (6.12: "Cannot split to order-1 folio" in
split_huge_page_to_list_to_order). debugfs clear_warn_once re-arms it.

The test is marked expect_splat: the guard must see the WARNING and accept it (and would
fail the test if it were missing). tests/test_plugin.py runs the same trigger without the
marker and checks that the test fails, naming the splat.
"""

from __future__ import annotations

import pytest

from harness.guest import workloads
from harness.guest.support import Kh, knobset


def trigger_unsplittable_warning(kh: Kh) -> workloads.Census:
    """An order-4 anonymous folio (64K with 4K pages) split to order 1 through debugfs:
    a VM_WARN_ONCE."""
    kh.apply(knobset("split-warn", sizes="order4", max_ptes_none=0), khugepaged=False)
    kh.guest.run(["sh", "-c", "echo 1 > /sys/kernel/debug/clear_warn_once"], timeout=30,
                 check=True)
    meter = kh.start_meter()
    w = kh.start("populate", workloads.region_options("1pmd", "first:32", advise="before",
                                                      split_to=1))
    census = kh.census(w)
    meter.finish()
    return census


@pytest.mark.needs("split_debugfs", "clear_warn_once")
@pytest.mark.expect_splat(kind="warning", title="split")     # 6.12: in split_huge_page_to_…
def test_guard_accepts_expected_warning(kh: Kh) -> None:
    if "CONFIG_DEBUG_VM=y" not in kh.kernel.config.read_text():
        pytest.skip("VM_WARN_ONCE needs CONFIG_DEBUG_VM")
    census = trigger_unsplittable_warning(kh)
    assert census.get(4) == 32, f"the order-4 folios must survive the refused split: {census}"
