"""Stuck khugepaged, concluded once (harness/guest/support.py Meter): fakes at the seams."""

from __future__ import annotations

from typing import Any

import pytest

from harness.guest import counters
from harness.guest import support as khsupport
from harness.guest.counters import CounterSnapshot

STUCK_SERIES = [CounterSnapshot(full_scans=7, sizes={64: {"collapse_alloc": 100}}),
                CounterSnapshot(full_scans=7, sizes={64: {"collapse_alloc": 655_927 + 100}})]


def test_evidence_names_scans_and_the_busy_counter() -> None:
    assert khsupport.stuck_evidence(STUCK_SERIES, 90) == \
        "khugepaged made 0 full scans in 90 s; 64K collapse_alloc +655927"
    slow = [STUCK_SERIES[0], CounterSnapshot(full_scans=8)]
    assert khsupport.stuck_evidence(slow, 90) is None          # slow, not stuck


def test_first_timeout_fails_later_waits_end_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def timeout(*a: Any, **kw: Any) -> list[CounterSnapshot]:
        calls.append(1)
        raise counters.ScanTimeout("khugepaged completed 0 of 3 full scans", "", STUCK_SERIES)

    monkeypatch.setattr(counters, "snapshot", lambda guest: CounterSnapshot())
    monkeypatch.setattr(counters, "wait_full_scans", timeout)
    monkeypatch.setattr(khsupport, "STUCK", {})
    first: dict[str, Any] = {}
    with pytest.raises(counters.ScanTimeout):           # the finding, once
        khsupport.Meter(None, first, 10.0, stuck_key="k1").scans(3, per_scan_s=3)
    assert first["stuck_khugepaged"].startswith("khugepaged made 0 full scans in 90 s")
    later: dict[str, Any] = {}
    with pytest.raises(pytest.skip.Exception, match="blocked: khugepaged made 0 full scans"):
        khsupport.Meter(None, later, 10.0, stuck_key="k1").scans(3)
    assert len(calls) == 1 and "64K collapse_alloc +655927" in later["blocked_by"]
    with pytest.raises(counters.ScanTimeout):           # another kernel waits for itself
        khsupport.Meter(None, {}, 10.0, stuck_key="k2").scans(3)
    assert len(calls) == 2
