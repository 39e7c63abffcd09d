"""max_ptes_none values mTHP collapse does not support (transhuge.rst: "For mTHP
collapse, only 0 or (HPAGE_PMD_NR - 1) are supported ... Any intermediate value will
emit a warning and mTHP collapse will default to max_ptes_none=0").

mm/khugepaged.c collapse_max_ptes_none() prints it with pr_warn_once (a log line, not a
WARN splat): debugfs clear_warn_once re-arms it, then it must appear exactly once however
many mTHP ranges are evaluated. The PMD order keeps honouring the value (HPAGE_PMD_NR / 2
- 1: 255 with 4K pages, 1023 with 16K, 4095 with 64K).
Kernels of the series before v13 scaled the value per order instead (the model's
`scaled`, chosen by probing the kernel for the warning text).
"""

from __future__ import annotations

import pytest

from harness.guest import workloads
from harness.guest.support import (
    WARN_255,
    Kh,
    census_message,
    census_pmds,
    expect,
    knobset,
    region_layout,
    settle,
)

# PMD 0: 300 of 512 present (212 empty <= 255: the PMD collapses; scaled with the page
# size); PMD 1: order-4 chunk 0 (64K with 4K pages) has 12 of 16 ptes (no collapse at
# "0"; scaled: 12 >= 16 - 7), chunk 1 is full.


def pattern(ptes: int) -> str:
    return f"first:{ptes * 300 // 512}|ptes:0-11,16-31"


@pytest.mark.needs("mthp_collapse")
def test_intermediate_value_acts_as_zero_and_warns_once(kh: Kh, request: pytest.FixtureRequest
                                                        ) -> None:
    ptes = kh.thp.layout().max_ptes_limit + 1
    env = kh.apply(knobset("none-half", sizes="order4+PMD", max_ptes_none=ptes // 2 - 1))
    model = kh.model()
    if kh.features["clear_warn_once"]:
        kh.guest.run(["sh", "-c", "echo 1 > /sys/kernel/debug/clear_warn_once"], timeout=30,
                     check=True)
    want = expect(model, env, region_layout(env, 2, pattern(ptes)))
    meter = kh.start_meter()
    w = kh.start("populate", workloads.region_options("2pmd", pattern(ptes)))
    got = settle(meter, lambda: kh.census(w), want.census, w.pid)
    meter.finish()
    assert census_pmds(got) == want.census, census_message(got, want, env)
    assert got.pmds[0] == {env.pmd_order: env.ptes}, \
        f"PMD order must honour {env.max_ptes_none}"
    log = kh.dmesg_since_start(request.node.nodeid) if kh.features["clear_warn_once"] \
        else kh.guest.dmesg()
    hits = [line for line in log.splitlines() if WARN_255 in line]
    kh.record["warnings"] = hits
    if model.scaled:
        assert not hits and got.pmds[1].get(0, 0) == 0
        return
    assert got.pmds[1].get(0) == 12, \
        f"{env.max_ptes_none} must act as 0 for order 4: the 12/16 chunk stays"
    assert len(hits) == 1, f"expected the warning exactly once, got {len(hits)}: {hits}"
    assert "khugepaged:" in hits[0] and f"0 or {env.ptes - 1}, defaulting to 0" in hits[0]
