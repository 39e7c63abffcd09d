"""The YAML run description, validated into typed objects before anything runs.

One file describes the kernel (source, series and versions, kconfig fragments), the
archs and variants, the build checks, the guest machine and the THP knob sets. The whole
file is validated here, once, into frozen objects (`kharness plan`, `run`, `bisect` and the
pytest plugin all load it through `load`), so a bad value is one line and exit 2 before
anything is built or booted. Errors name the file, the key and what is allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from harness import arch as archmod
from harness import guestcfg
from harness.checks.model import CHECKS, DEFAULT_CHECKS
from harness.errors import UserError
from harness.guest import knobs as knobsmod
from harness.guest.knobs import KnobSet
from harness.guestcfg import GuestSettings

TOP_KEYS = ("name", "kernel", "series", "archs", "variants", "configs", "checks", "guest",
            "knobs")
SOURCE_KINDS = ("debian", "git", "tarball")
DEFAULT_FRAGMENTS = ("virt", "thp", "swap", "debug-locking")
# what a guest on a root disk needs (ext4, systemd): added for disk boots (kharness boot --rootfs)
DISK_FRAGMENT = "disk"
VARIANT_RE = re.compile(r"^(baseline|patched|[A-Za-z0-9._-]+?)(?::(\d+))?$")
OPTION_RE = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")
KCONFIG_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
KCONFIG_KEYS = ("archs", "fragments", "options", "guest", "knobs")
INHERIT = "..."            # in a config's fragment list: the kernel's fragments, here


@dataclass(frozen=True)
class SourceSpec:
    kind: str                     # debian | git | tarball
    location: str                 # package name, repo path/URL, tarball path/URL
    ref: str = ""                 # git ref
    suite: str = "sid"            # debian suite
    sha256: str = ""              # tarball checksum


@dataclass(frozen=True)
class SeriesSpec:
    name: str
    versions: tuple[tuple[str, str], ...]   # (version, path|lore:msgid), oldest first

    def version_names(self) -> tuple[str, ...]:
        return tuple(v for v, _ in self.versions)

    def latest(self) -> str:
        return self.versions[-1][0]


@dataclass(frozen=True)
class Variant:
    """baseline, or a series version with the first `prefix` patches (None = all)."""
    label: str
    version: str | None = None
    prefix: int | None = None
    commit: str | None = None       # "commit:<rev>": any commit of a git source (bisect)

    @property
    def is_baseline(self) -> bool:
        return self.version is None and self.commit is None


@dataclass(frozen=True)
class KernelConfig:
    """One entry of `configs:`: a kernel configuration the matrix is crossed with."""
    name: str
    fragments: tuple[str, ...]              # replaces kernel.fragments ("..." inherits them)
    options: tuple[str, ...] = ()           # added after kernel.options
    archs: tuple[str, ...] = ()             # () = the top-level archs
    guest: GuestSettings | None = None      # None = the top-level guest (else merged over it)
    knobsets: tuple[KnobSet, ...] | None = None   # None = the top-level knob sets


@dataclass(frozen=True)
class Config:
    path: Path
    name: str
    source: SourceSpec
    fragments: tuple[str, ...]
    options: tuple[str, ...]
    series: SeriesSpec | None
    archs: tuple[str, ...]
    variants: tuple[str, ...]
    checks: tuple[str, ...] = ()           # build checks `kharness check` / `run` perform
    guest: GuestSettings = field(default_factory=GuestSettings)  # `guest:` (harness.guestcfg)
    knobsets: tuple[KnobSet, ...] = ()      # the `knobs:` section; () when there is none
    kconfigs: tuple[KernelConfig, ...] = ()   # the `configs:` axis; () = none declared
    kconfig: str = ""                         # the one this Config is narrowed to ("" = none)

    def kconfig_names(self) -> tuple[str, ...]:
        """The config axis: the names under `configs:`, or ("",) without that section."""
        return tuple(k.name for k in self.kconfigs) or ("",)

    def archs_for(self, name: str, chosen: tuple[str, ...] = ()) -> tuple[str, ...]:
        """The archs a kernel config runs on: `chosen` (--arch, canonical names) replaces the
        top-level archs, as without configs; a config's own `archs:` are only narrowed by it."""
        own = next((k.archs for k in self.kconfigs if k.name == name and k.archs), ())
        if own:
            return tuple(a for a in own if not chosen or a in chosen)
        return chosen or self.archs

    def for_kconfig(self, name: str) -> Config:
        """This config narrowed to one entry of `configs:`: its fragments, options, archs,
        guest and knobs in place of the top-level ones. "" is the `kernel:` section itself."""
        if not name:
            return self
        kc = next((k for k in self.kconfigs if k.name == name), None)
        if kc is None:
            raise UserError(f"unknown kernel config {name!r}",
                            f"{self.path} declares {', '.join(self.kconfig_names()) or 'none'}"
                            if self.kconfigs else f"{self.path} has no configs: section",
                            "use one of those names, or add it under configs:")
        return replace(self, fragments=kc.fragments, options=self.options + kc.options,
                       archs=kc.archs or self.archs, guest=kc.guest or self.guest,
                       knobsets=self.knobsets if kc.knobsets is None else kc.knobsets,
                       kconfig=name)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def resolve_path(self, p: str) -> Path:
        path = Path(p).expanduser()
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    def variant(self, text: str) -> Variant:
        return parse_variant(text, self)


def _err(path: Path, key: str, msg: str, fix: str = "") -> UserError:
    return UserError(f"{path}: {key}", msg, fix)


def load(path: str | Path) -> Config:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"config file not found: {p}", "", "pass the path of a kharness YAML file")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise UserError(f"{p}:{where.strip()} malformed YAML", str(problem),
                        "fix the YAML syntax") from None
    return from_dict(data, p.resolve())


def from_dict(data: Any, path: Path) -> Config:
    if not isinstance(data, dict):
        raise _err(path, "(top level)", "must be a mapping", "see examples/quickstart.yaml")
    unknown = sorted(set(map(str, data)) - set(TOP_KEYS))
    if unknown:
        raise _err(path, unknown[0], "unknown key",
                   f"remove it; allowed: {', '.join(TOP_KEYS)}")
    kernel = data.get("kernel")
    if not isinstance(kernel, dict):
        raise _err(path, "kernel", "missing or not a mapping", "add kernel: {source: ...}")
    series = _series(data.get("series"), path)
    archs = tuple(archmod.get(a).name for a in _str_list(data.get("archs", ["x86_64"]), path,
                                                         "archs"))
    cfg = Config(
        path=path, name=str(data.get("name") or path.stem),
        source=_source(kernel.get("source"), path),
        fragments=_str_list(kernel.get("fragments", list(DEFAULT_FRAGMENTS)), path,
                            "kernel.fragments"),
        options=_options(kernel.get("options", []), path, "kernel.options"),
        series=series,
        archs=archs,
        variants=_str_list(data.get("variants", ["baseline", "patched"] if series
                                    else ["baseline"]), path, "variants"),
        checks=_checks(data.get("checks", "default"), path) if series else (),
        guest=guestcfg.parse(data.get("guest"), str(path)),
        knobsets=_knobsets(data.get("knobs"), path, archs),
    )
    cfg = replace(cfg, kconfigs=_kconfigs(data.get("configs"), cfg, data.get("guest")))
    extra = sorted(set(kernel) - {"source", "fragments", "options"})
    if extra:
        raise _err(path, f"kernel.{extra[0]}", "unknown key", "allowed: source, fragments, options")
    for v in cfg.variants:
        parse_variant(v, cfg)
    return cfg


def _knobsets(value: Any, path: Path, archs: tuple[str, ...]) -> tuple[KnobSet, ...]:
    """The knob sets; max_ptes_* bounded by the largest HPAGE_PMD_NR - 1 of the archs (the
    guest's own page size, hence its exact limit, is known only after boot)."""
    if not value:
        return ()
    limit = max((archmod.get(a).max_ptes_limit for a in archs), default=None)
    return tuple(knobsmod.parse_knobsets(value, str(path), limit))


def _kconfigs(value: Any, cfg: Config, guest: Any) -> tuple[KernelConfig, ...]:
    """configs: {name: [fragments] | {archs, fragments, options, guest, knobs}}."""
    if value is None:
        return ()
    if not isinstance(value, dict) or not value:
        raise _err(cfg.path, "configs", "must map config names to fragment lists or mappings",
                   "e.g. configs: {debug: [virt, thp, swap, debug-locking], "
                   "ptc: {fragments: [..., page-table-check]}}")
    return tuple(_kconfig(str(name), spec, cfg, guest) for name, spec in value.items())


def _kconfig(name: str, spec: Any, cfg: Config, top_guest: Any) -> KernelConfig:
    """One entry, its guest (merged over the top-level `guest:` mapping) and knob sets
    parsed now, with the entry's archs bounding max_ptes_*."""
    key = f"configs.{name}"
    if not KCONFIG_NAME_RE.match(name):
        raise _err(cfg.path, key, "bad config name", "letters, digits, '.', '_', '+', '-'")
    if not isinstance(spec, dict):
        spec = {"fragments": spec}
    extra = sorted(set(spec) - set(KCONFIG_KEYS))
    if extra:
        raise _err(cfg.path, f"{key}.{extra[0]}", "unknown key",
                   f"allowed: {', '.join(KCONFIG_KEYS)}")
    frags = _str_list(spec.get("fragments", [INHERIT]), cfg.path, f"{key}.fragments")
    guest = spec.get("guest") or {}
    if not isinstance(guest, dict):
        raise _err(cfg.path, f"{key}.guest", "must be a mapping", "e.g. guest: {mem: 4G}")
    merged = {**(top_guest if isinstance(top_guest, dict) else {}), **guest}
    settings = guestcfg.parse(merged, f"{cfg.path}: {key}") if guest else None
    archs = tuple(archmod.get(a).name for a in _str_list(spec.get("archs", []), cfg.path,
                                                         f"{key}.archs"))
    knobsets = None if spec.get("knobs") is None else _knobsets(
        spec["knobs"], cfg.path, archs or cfg.archs)
    return KernelConfig(name=name, fragments=_inherit(frags, cfg.fragments),
                        options=_options(spec.get("options", []), cfg.path, f"{key}.options"),
                        archs=archs, guest=settings, knobsets=knobsets)


def _inherit(frags: tuple[str, ...], kernel: tuple[str, ...]) -> tuple[str, ...]:
    """"..." in a config's fragment list stands for the kernel's fragments."""
    out: list[str] = []
    for f in frags:
        out += list(kernel) if f == INHERIT else [f]
    return tuple(dict.fromkeys(out))


def _checks(value: Any, path: Path) -> tuple[str, ...]:
    """checks: default | all | none | [names]; default = all of them."""
    if value in ("default", "all", True):
        return DEFAULT_CHECKS
    if value in ("none", False, None, []):
        return ()
    names = _str_list(value, path, "checks")
    bad = [n for n in names if n not in CHECKS]
    if bad:
        raise _err(path, "checks", f"unknown check {bad[0]!r}",
                   f"allowed: {', '.join(CHECKS)}, or all/none")
    return tuple(c for c in CHECKS if c in names)


def _str_list(value: Any, path: Path, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise _err(path, key, "must be a list of strings")
    return tuple(str(v) for v in value)


def _options(value: Any, path: Path, key: str) -> tuple[str, ...]:
    if isinstance(value, dict):
        value = [f"{k}={_kval(v)}" for k, v in value.items()]
    out = []
    for item in _str_list(value, path, key):
        opt = item if item.startswith("CONFIG_") else f"CONFIG_{item}"
        if not OPTION_RE.match(opt):
            raise _err(path, key, f"bad option {item!r}", "write CONFIG_NAME=y|m|n|value")
        out.append(opt)
    return tuple(out)


def _kval(v: Any) -> str:
    if v is True:
        return "y"
    if v is False:
        return "n"
    return str(v)


def _source(value: Any, path: Path) -> SourceSpec:
    if not isinstance(value, dict):
        raise _err(path, "kernel.source", "missing or not a mapping",
                   "e.g. source: {debian: linux-source-7.2, suite: sid}")
    kinds = [k for k in SOURCE_KINDS if k in value]
    if len(kinds) != 1:
        raise _err(path, "kernel.source", f"needs exactly one of {', '.join(SOURCE_KINDS)}")
    kind = kinds[0]
    allowed = {"debian": {"debian", "suite"}, "git": {"git", "ref"},
               "tarball": {"tarball", "sha256"}}[kind]
    extra = sorted(set(value) - allowed)
    if extra:
        raise _err(path, f"kernel.source.{extra[0]}", f"not valid for a {kind} source",
                   f"allowed: {', '.join(sorted(allowed))}")
    spec = SourceSpec(kind=kind, location=str(value[kind]), ref=str(value.get("ref", "")),
                      suite=str(value.get("suite", "sid")), sha256=str(value.get("sha256", "")))
    if kind == "git" and not spec.ref:
        raise _err(path, "kernel.source.ref", "a git source needs a ref",
                   "add ref: <branch, tag or sha>")
    if kind == "tarball" and "://" in spec.location and not spec.sha256:
        raise _err(path, "kernel.source.sha256", "a tarball URL needs its sha256")
    if kind != "debian" and "://" not in spec.location and ":" not in spec.location[:10]:
        resolved = (path.parent / spec.location).expanduser()
        spec = SourceSpec(kind, str(resolved.resolve()), spec.ref, spec.suite, spec.sha256)
    return spec


def _series(value: Any, path: Path) -> SeriesSpec | None:
    if value is None:
        return None
    if not isinstance(value, dict) or "versions" not in value:
        raise _err(path, "series", "must be a mapping with name and versions",
                   "e.g. series: {name: demo, versions: {v1: demo/v1, v2: demo/v2}}")
    versions = value["versions"]
    if isinstance(versions, (str, list)):
        versions = {"v1": versions} if isinstance(versions, str) else {
            f"v{i + 1}": v for i, v in enumerate(versions)}
    if not isinstance(versions, dict) or not versions:
        raise _err(path, "series.versions", "must map version names to patch locations")
    pairs = []
    for ver, loc in versions.items():
        if str(ver) in ("baseline", "patched") or ":" in str(ver):
            raise _err(path, f"series.versions.{ver}", "reserved or invalid version name")
        loc = str(loc)
        if not loc.startswith("lore:"):
            loc = str((path.parent / loc).expanduser().resolve())
        pairs.append((str(ver), loc))
    return SeriesSpec(name=str(value.get("name", "series")), versions=tuple(pairs))


def parse_variant(text: str, cfg: Config) -> Variant:
    if text.startswith("commit:"):
        rev = text.split(":", 1)[1].strip()
        if not rev:
            raise UserError(f"bad variant {text!r}", "", "write commit:<sha or ref>")
        return Variant(label=f"commit:{rev}", commit=rev)
    m = VARIANT_RE.match(text.strip())
    if not m:
        raise UserError(f"bad variant {text!r}", "", "use baseline, patched, <version> or "
                        "<version>:<k> (first k patches)")
    name, k = m.group(1), m.group(2)
    prefix = int(k) if k is not None else None
    if name == "baseline":
        return Variant("baseline")
    if cfg.series is None:
        raise UserError(f"variant {text!r} needs a series", f"{cfg.path} declares none",
                        "add a series: section or use --variant baseline")
    version = cfg.series.latest() if name == "patched" else name
    if version not in cfg.series.version_names():
        raise UserError(f"unknown series version {name!r} in variant {text!r}",
                        f"{cfg.path} declares {', '.join(cfg.series.version_names())}")
    if prefix == 0:
        return Variant("baseline")
    label = text.strip() if name != "patched" else (f"patched:{prefix}" if k else "patched")
    return Variant(label=label, version=version, prefix=prefix)
