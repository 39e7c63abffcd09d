"""Root conftest: make the kharness pytest plugin available even when not pip-installed.

When kharness is installed (pip install -e .), its pytest11 entry point loads
harness.plugin; loading it again here would register it twice, so only fall back. Also
orders the suite: unit tests, then x86_64, then arm64 (pytest_collection_modifyitems), and
puts the guest suite's arm64 baseline cell in the slow target (the repository's own suite
only: `kharness run` runs the shipped suite without this file).
"""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


def _entry_point_installed() -> bool:
    eps = importlib.metadata.entry_points(group="pytest11")
    return any(ep.value == "harness.plugin" for ep in eps)


pytest_plugins = [] if _entry_point_installed() else ["harness.plugin"]


def _order(item: pytest.Item) -> tuple[bool, bool]:
    """(builds or boots real kernels, needs arm64)."""
    real = item.nodeid.startswith("guest_tests/") or item.get_closest_marker("integration") \
        is not None
    return real, "arm64" in item.nodeid.split("::", 1)[-1]


SLOW_TARGETS = ("arm64-baseline",)


@pytest.hookimpl(tryfirst=True)
def pytest_itemcollected(item: pytest.Item) -> None:
    """CI runs the guest suite on x86_64 with and without the series and on arm64 with it;
    arm64 without it (~10 min of TCG here) is in the slow target (`-m slow`) and in
    `kharness run`. Marked as collected, before `-m` selects."""
    params = item.nodeid.partition("[")[2]
    if item.nodeid.startswith("guest_tests/") and params.startswith(SLOW_TARGETS):
        item.add_marker(pytest.mark.slow)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Unit tests first, then real kernels on x86_64, then on arm64 (a stable sort: pytest's
    own grouping is kept within each part).

    From an empty cache scripts/test.sh compiles the quickstart kernels in the background:
    x86_64 while the unit tests run, arm64 while the x86_64 guests run (TCG leaves a third
    of the CPU idle). This order gives each build the most time before it is needed."""
    items.sort(key=_order)
