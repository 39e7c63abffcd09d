"""Root conftest: make the kharness pytest plugin available even when not pip-installed.

When kharness is installed (pip install -e .), its pytest11 entry point loads
harness.plugin; loading it again here would register it twice, so only fall back. Also
orders the suite: arm64 items last (see pytest_collection_modifyitems).
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


def _needs_arm64(item: pytest.Item) -> bool:
    return "arm64" in item.nodeid.split("::", 1)[-1]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """arm64 items last (a stable sort: pytest's own grouping is kept on each side).

    From an empty cache scripts/test.sh compiles the arm64 kernels in the background while
    everything else runs; this order gives that build the most time before it is needed."""
    items.sort(key=_needs_arm64)
