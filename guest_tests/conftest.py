"""guest_tests run in real guests through the kharness plugin (harness/plugin.py).

The kernel comes from ini `kharness_config` (pyproject: examples/quickstart.yaml) or
--kharness-config; tests parametrised by `knobset` run once per knob set of its `knobs:`.

`kh` is the per-test facade: apply a knob set (restored afterwards), the effective THP
state, the collapse model of the kernel under test, a Meter recording counters into the
journal, and workloads that are stopped when the test ends.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from khsupport import Kh


@pytest.fixture
def kh(guest: Any, vm: Any, kernel: Any, kernel_features: dict[str, bool],
       kh_record: dict[str, Any]) -> Iterator[Kh]:
    k = Kh(guest, vm, kernel, kernel_features, kh_record)
    yield k
    if vm.qemu is not None and vm.qemu.alive() and vm.outcome.value == "ok":   # else: gone
        k.close()
