"""Per-patch build checks: what the compiler and the kernel's own checkers say about each
patch of a series, new versus the base (the kernel test robot's and NIPA's job, per version).

Stages: `objects` (which objects a series touches) -> `compile` (make of just those, per
toolchain profile) -> `diagnostics` (parse) -> `linemap` + `compare` (new versus the last
prefix that compiled) -> `runner` (every prefix of every version, per arch) -> records in the
run's journal. `checkpatch`, `kerneldoc` and `bisectability` are the other named checks.
"""
