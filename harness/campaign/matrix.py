"""The run matrix: kernel configs x archs x variants, and what each cell is expected to cost.

A cell is (arch, config, variant), named "arch/config/variant". A YAML without `configs:`
has one anonymous config ("") and its cells keep the name "arch/variant", so earlier runs,
their history and `--resume` read the same. `--arch` replaces the top-level archs (as
without configs); a config's own `archs:` is only narrowed by it.

Estimates (`kharness plan`) come from the history store (`kharness nightly` / `run
--history`): per cell, the median wall time of its tests and of a build that was not a
cache hit, over the last runs of the same config name. Without history a cell is charged
the stated defaults below (measured on this project's 2-core TCG hosts, README).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness import arch as archmod
from harness import config
from harness.results.history import CellCost

# Defaults without history. Cold build of the debug virt config (README, "Measured here":
# 206.5 s x86_64, 222.7 s arm64, idle 12-06 host; rounded up); another variant of the same
# kernel config rebuilds only what its series touches in the slot (~7 s make + relink +
# copy; charged 30 s); tests: the shipped guest suite on one cell, boots included.
DEFAULT_COLD_BUILD = {"x86_64": 210.0, "arm64": 225.0}
DEFAULT_INCREMENTAL_BUILD = 30.0
DEFAULT_TESTS = 900.0


@dataclass(frozen=True)
class Cell:
    arch: str
    variant: str
    config: str = ""          # the `configs:` entry; "" = the kernel section (no axis)

    @property
    def name(self) -> str:
        return "/".join(p for p in (self.arch, self.config, self.variant) if p)

    @property
    def slug(self) -> str:
        return self.name.replace("/", "-").replace(":", "_")

    def record(self) -> dict[str, str]:
        """The cell's identity as journal records carry it."""
        return {"cell": self.name, "arch": self.arch, "config": self.config,
                "variant": self.variant}


def kconfigs(cfg: config.Config, names: tuple[str, ...] = ()) -> list[str]:
    """Selected config names in the YAML's order; an unknown name is a UserError."""
    for n in names:
        cfg.for_kconfig(n)
    return [k for k in cfg.kconfig_names() if not names or k in names]


def cells(cfg: config.Config, archs: tuple[str, ...] = (), variants: tuple[str, ...] = (),
          names: tuple[str, ...] = ()) -> list[Cell]:
    """Configs x archs x variants, in that order (Config.archs_for: a config whose own archs
    are none of `archs` has no cells)."""
    chosen = tuple(dict.fromkeys(archmod.get(a).name for a in archs))
    labels = [cfg.variant(v).label for v in (variants or cfg.variants)]
    return [Cell(a, v, k) for k in kconfigs(cfg, names)
            for a in cfg.archs_for(k, chosen) for v in labels]


@dataclass(frozen=True)
class Estimate:
    cell: Cell
    build: float             # seconds if the kernel is not in the cache
    tests: float             # seconds of the cell's tests
    source: str              # "history (N runs)" or "default"


def estimate(cell: Cell, costs: dict[str, CellCost]) -> Estimate:
    seen = costs.get(cell.name)
    cold = DEFAULT_COLD_BUILD.get(cell.arch, max(DEFAULT_COLD_BUILD.values()))
    build = cold if cell.variant == "baseline" else DEFAULT_INCREMENTAL_BUILD
    if seen is None or (seen.build is None and seen.tests is None):
        return Estimate(cell, build, DEFAULT_TESTS, "default")
    return Estimate(cell, build if seen.build is None else seen.build,
                    DEFAULT_TESTS if seen.tests is None else seen.tests,
                    f"history ({seen.runs} run{'s' if seen.runs != 1 else ''})")


def table(cfg: config.Config, found: list[Cell], costs: dict[str, CellCost], jobs: int,
          where: str) -> str:
    """The matrix with a cost per cell and in total (builds one at a time, tests `jobs` at
    a time)."""
    if not found:
        return "matrix: no cells (the selection matches no config/arch)"
    ests = [estimate(c, costs) for c in found]
    w = max(len(c.name) for c in found) + 2
    counts = [len({getattr(c, f) for c in found}) for f in ("config", "arch", "variant")]
    head = [(f"matrix: {len(found)} cells over {counts[0]} kernel config(s), {counts[1]} "
             f"arch(s), {counts[2]} variant(s); estimates from {where}"), "",
            f"{'cell':{w}s}{'build':>9s}{'tests':>9s}  estimate from"]
    rows = [f"{e.cell.name:{w}s}{_dur(e.build):>9s}{_dur(e.tests):>9s}  {e.source}"
            for e in ests]
    build = sum(e.build for e in ests)
    tests = sum(e.tests for e in ests)
    wall = build + tests / max(jobs, 1)
    return "\n".join([*head, "-" * (w + 34), *rows, "",
                      (f"total: builds {_dur(build)} from an empty cache (one at a time), "
                      f"tests {_dur(tests)} of cell time, {jobs} at a time: "
                      f"~{_dur(wall)} wall cold, ~{_dur(tests / max(jobs, 1))} with the "
                      "kernels cached"), *_config_lines(cfg, found)])


def _config_lines(cfg: config.Config, found: list[Cell]) -> list[str]:
    out = []
    for k in dict.fromkeys(c.config for c in found):
        if k:
            n = cfg.for_kconfig(k)
            opts = f" + {', '.join(n.options)}" if n.options else ""
            out.append(f"  config {k}: {', '.join(n.fragments)}{opts} ({', '.join(n.archs)})")
    return ["", "kernel configs:", *out] if out else []


def _dur(seconds: float) -> str:
    s = round(seconds)
    if s < 120:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"
