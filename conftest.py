"""Root conftest: make the kharness pytest plugin available even when not pip-installed.

When kharness is installed (pip install -e .), its pytest11 entry point loads
harness.plugin; loading it again here would register it twice, so only fall back.
"""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def _entry_point_installed() -> bool:
    eps = importlib.metadata.entry_points(group="pytest11")
    return any(ep.value == "harness.plugin" for ep in eps)


pytest_plugins = [] if _entry_point_installed() else ["harness.plugin"]
