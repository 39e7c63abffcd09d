"""Guest images: the initramfs from Debian packages (root disks: harness.image.rootfs; cloud images:
harness.image.cloud).

Default guest: an uncompressed newc initramfs assembled from public Debian packages for the
guest's arch (busybox-static, dropbear, their shared libraries found through ELF DT_NEEDED
and package Depends), the harness's static guest workloads and images/init. It is
content-addressed: cached under cache_dir("images", <arch>) by a hash of every input, so it
is rebuilt only when an input changes. Per-run files (the SSH key) go into a small second
archive concatenated after the base one (overlay_cpio).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import logging
import re
import struct
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from harness import arch as arch_mod
from harness.errors import UserError
from harness.image import cpio, elf
from harness.image.guestbin import compile_workloads, workload_inputs, workload_sources
from harness.resources import recipe_dir, workload_dir
from harness.sources import debian
from harness.util import (
    atomic_write,
    cache_dir,
    file_lock,
    mark_used,
    sha256_bytes,
    sha256_file,
    stable_hash,
    write_json,
)

log = logging.getLogger("harness")

IMAGES = recipe_dir()
WORKLOADS = workload_dir()
TRIPLETS = {"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}
ELF_MACHINES = {"x86_64": 62, "arm64": 183}
BUILDER = sha256_bytes(b"".join(Path(f).read_bytes()
                                for f in (__file__, cpio.__file__, elf.__file__)))


# ---------------------------------------------------------------- recipes

@dataclass(frozen=True)
class Recipe:
    """A validated images/*.yaml recipe. Paths are absolute image paths."""

    path: Path
    suite: str
    packages: tuple[str, ...]
    install: tuple[str, ...] = ()
    files: tuple[tuple[str, bytes, int], ...] = ()
    dirs: tuple[tuple[str, int], ...] = ()
    symlinks: tuple[tuple[str, str], ...] = ()
    busybox: tuple[str, str] | None = None        # (binary, directory for applet links)
    workloads: str | None = None                  # directory for compiled workloads
    ssh_host_key: str | None = None               # where a baked-in dropbear key goes
    sources: tuple[tuple[str, str], ...] = ()     # (file, sha256) of everything read


_RECIPE_KEYS = {"suite", "packages", "install", "files", "dirs", "symlinks", "busybox",
                "workloads", "ssh_host_key"}


def load_recipe(path: Path) -> Recipe:
    """Parse and validate a recipe; errors name the file and the bad key."""
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise UserError(f"cannot read image recipe {path}", str(e)) from e
    if not isinstance(raw, dict) or set(raw) - _RECIPE_KEYS:
        extra = sorted(set(raw) - _RECIPE_KEYS) if isinstance(raw, dict) else "not a mapping"
        raise UserError(f"bad image recipe {path}", f"unknown keys: {extra}",
                        f"allowed: {', '.join(sorted(_RECIPE_KEYS))}")
    files = tuple(_recipe_file(path, f) for f in raw.get("files") or ())
    sources = [(path.name, sha256_file(path))]
    sources += [(f["src"], sha256_file(path.parent / f["src"]))
                for f in raw.get("files") or () if "src" in f]
    bb = raw.get("busybox")
    return Recipe(
        path=path, suite=str(raw.get("suite", "bookworm")),
        packages=tuple(raw.get("packages") or ()), install=tuple(raw.get("install") or ()),
        files=files, dirs=tuple(_recipe_dir(path, d) for d in raw.get("dirs") or ()),
        symlinks=tuple((str(k), str(v)) for k, v in (raw.get("symlinks") or {}).items()),
        busybox=(str(bb["binary"]), str(bb["links"])) if bb else None,
        workloads=raw.get("workloads"), ssh_host_key=raw.get("ssh_host_key"),
        sources=tuple(sources))


def _mode(recipe: Path, value: Any, default: int) -> int:
    try:
        return default if value is None else int(str(value), 8)
    except ValueError as e:
        raise UserError(f"bad mode {value!r} in {recipe}",
                        "write modes as quoted octal, '0755'") from e


def _recipe_file(recipe: Path, spec: Any) -> tuple[str, bytes, int]:
    if not isinstance(spec, dict) or "path" not in spec or ("src" in spec) == ("text" in spec):
        raise UserError(f"bad files entry in {recipe}: {spec!r}",
                        "each needs path and exactly one of src (file next to the recipe) or text")
    data = (recipe.parent / spec["src"]).read_bytes() if "src" in spec else spec["text"].encode()
    return str(spec["path"]), data, _mode(recipe, spec.get("mode"), 0o644)


def _recipe_dir(recipe: Path, spec: Any) -> tuple[str, int]:
    if isinstance(spec, str):
        return spec, 0o755
    if isinstance(spec, dict) and "path" in spec:
        return str(spec["path"]), _mode(recipe, spec.get("mode"), 0o755)
    raise UserError(f"bad dirs entry in {recipe}: {spec!r}", "a path or {path, mode}")


# ---------------------------------------------------------------- Debian packages

@functools.lru_cache(maxsize=4)
def _index(suite: str, debian_arch: str) -> dict[str, dict[str, str]]:
    """Newest stanza per package name (arch index, then arch:all), parsed once per process."""
    best: dict[str, dict[str, str]] = {}
    for index_arch in (debian_arch, "all"):
        for s in debian.packages_index(suite, index_arch):
            old = best.get(s["Package"])
            if old is None or debian.version_key(s["Version"]) > debian.version_key(old["Version"]):
                best[s["Package"]] = s
    return best


def _package(stanza: dict[str, str], suite: str, debian_arch: str) -> debian.Package:
    return debian.Package(
        name=stanza["Package"], version=stanza["Version"],
        arch=stanza.get("Architecture", debian_arch), filename=stanza["Filename"],
        sha256=stanza["SHA256"], size=int(stanza["Size"]),
        depends=_stanza_depends(stanza), suite=suite, mirror=debian.mirror_for(suite))


def dependency_names(depends: str, known: dict[str, Any]) -> list[str]:
    """Package names from a Depends field: the first alternative that exists in `known`."""
    out = []
    for group in filter(None, (g.strip() for g in depends.split(","))):
        alts = [re.split(r"[\s(:\[]", a.strip(), maxsplit=1)[0] for a in group.split("|")]
        name = next((a for a in alts if a in known), None)
        if name is not None:
            out.append(name)
    return out


def closure(names: Sequence[str], suite: str, debian_arch: str) -> list[debian.Package]:
    """`names` and everything they depend on, breadth first (memoized per archive state)."""
    state = debian.archive_state(suite, debian_arch)
    key = stable_hash([suite, debian_arch, list(names), state])
    memo = cache_dir("images", "resolve") / f"{key}.json"
    if memo.exists():
        return [debian.Package(**p) for p in json.loads(memo.read_text())]
    index = _index(suite, debian_arch)
    for name in names:
        if name not in index:
            raise UserError(f"package {name} not found in Debian {suite} ({debian_arch})",
                            "no such binary package", "fix the image recipe")
    order = list(dict.fromkeys(names))
    for name in order:      # grows while iterating: breadth first
        deps = dependency_names(_stanza_depends(index[name]), index)
        order += [d for d in deps if d not in order]
    pkgs = [_package(index[n], suite, debian_arch) for n in order]
    write_json(memo, [asdict(p) for p in pkgs])
    return pkgs


def _stanza_depends(stanza: dict[str, str]) -> str:
    return ", ".join(x for x in (stanza.get("Pre-Depends"), stanza.get("Depends")) if x)


def _rel(path: str) -> str:
    return "/".join(p for p in path.split("/") if p not in ("", "."))


@dataclass
class _Node:
    kind: str            # file | dir | link
    mode: int
    data: bytes = b""
    target: str = ""
    package: str = ""


@dataclass
class Tree:
    """The union of some packages' data.tar members, in memory, loaded level by level."""

    available: dict[str, debian.Package]
    nodes: dict[str, _Node] = field(default_factory=dict)
    loaded: list[debian.Package] = field(default_factory=list)

    def load(self, name: str) -> None:
        if any(p.name == name for p in self.loaded):
            return
        pkg = self.available[name]
        self.loaded.append(pkg)
        with debian.deb_data_tar(debian.download(pkg)) as tar:
            for m in tar.getmembers():
                self._add(tar, m, pkg.name)

    def _add(self, tar: tarfile.TarFile, m: tarfile.TarInfo, pkg: str) -> None:
        name = _rel(m.name)
        if not name:
            return
        if m.issym():
            self.nodes[name] = _Node("link", 0o777, target=m.linkname, package=pkg)
        elif m.islnk() and _rel(m.linkname) in self.nodes:
            self.nodes[name] = self.nodes[_rel(m.linkname)]
        elif m.isdir():
            self.nodes.setdefault(name, _Node("dir", m.mode, package=pkg))
        elif m.isfile():
            fobj = tar.extractfile(m)
            self.nodes[name] = _Node("file", m.mode, fobj.read() if fobj else b"", package=pkg)

    def expand(self) -> bool:
        """Load the next level of Depends of everything loaded; False when nothing is left."""
        names = [d for p in list(self.loaded) for d in dependency_names(p.depends, self.available)]
        new = [n for n in dict.fromkeys(names) if all(p.name != n for p in self.loaded)]
        for name in new:
            self.load(name)
        return bool(new)

    def resolve(self, path: str, hops: int = 0) -> str:
        """Path with every symlink followed (absolute targets are inside the tree)."""
        parts = [p for p in path.split("/") if p not in ("", ".")]
        cur: list[str] = []
        for i, part in enumerate(parts):
            if part == "..":
                cur = cur[:-1]
                continue
            node = self.nodes.get("/".join(cur + [part]))
            if node is not None and node.kind == "link" and hops < 40:
                target = (node.target if node.target.startswith("/")
                          else "/".join([*cur, node.target]))
                return self.resolve("/".join([target, *parts[i + 1:]]), hops + 1)
            cur.append(part)
        return "/".join(cur)

    def file(self, path: str) -> _Node | None:
        node = self.nodes.get(self.resolve(path))
        return node if node is not None and node.kind == "file" else None


# ---------------------------------------------------------------- assembly

class _Collector:
    """Image entries copied from a package tree, following ELF interpreters and DT_NEEDED."""

    def __init__(self, tree: Tree, profile: arch_mod.ArchProfile) -> None:
        self.tree, self.profile = tree, profile
        self.entries: dict[str, cpio.Entry] = {}
        self.used: set[str] = set()
        t = TRIPLETS[profile.debian_arch]
        self.libdirs = (f"lib/{t}", f"usr/lib/{t}", "lib", "usr/lib", "lib64", "usr/lib64")

    def install(self, path: str) -> None:
        self.copy(self._find([path], path))

    def copy(self, path: str) -> None:
        """Add `path`, keeping symlinks as symlinks (and adding what they point to)."""
        parent, _, base = _rel(path).rpartition("/")
        parent = self.tree.resolve(parent) if parent else ""
        rel = f"{parent}/{base}" if parent else base
        node = self.tree.nodes.get(rel)
        if rel in self.entries or node is None:
            return
        self.used.add(node.package)
        if node.kind == "link":
            self.entries[rel] = cpio.symlink(rel, node.target)
            self.copy(node.target if node.target.startswith("/") else f"{parent}/{node.target}")
        elif node.kind == "file":
            self.entries[rel] = cpio.file(rel, node.data, node.mode & 0o7777)
            self._follow(rel, node.data)
        else:
            self.entries[rel] = cpio.directory(rel, node.mode & 0o7777)

    def _follow(self, rel: str, data: bytes) -> None:
        info = elf.parse_elf(data)
        if info is None:
            return
        if info.machine != ELF_MACHINES[self.profile.name]:
            raise UserError(f"/{rel} is built for ELF machine {info.machine}, "
                            f"not {self.profile.name}",
                            "wrong architecture in the package tree")
        if info.interp:
            self.copy(self._find([info.interp], f"the dynamic loader {info.interp}"))
        for soname in info.needed:
            self.copy(self._find([f"{d}/{soname}" for d in self.libdirs], f"{soname} (for /{rel})"))

    def _find(self, candidates: list[str], what: str) -> str:
        """First candidate some loaded package ships, loading Depends level by level."""
        while True:
            hit = next((c for c in candidates if self.tree.file(c) is not None), None)
            if hit is not None:
                return hit
            if not self.tree.expand():
                loaded = ", ".join(p.name for p in self.tree.loaded)
                raise UserError(f"no package ships {what}", f"searched {loaded} and their Depends",
                                "add the package that ships it to the image recipe")


def host_key(seed: str) -> tuple[bytes, str]:
    """A dropbear-format ed25519 host key derived from `seed`, and its OpenSSH public line."""
    priv = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"hostkey:{seed}".encode()).digest())
    pub = priv.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    secret = priv.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    def sshstr(b: bytes) -> bytes:
        return struct.pack(">I", len(b)) + b
    line = base64.b64encode(sshstr(b"ssh-ed25519") + sshstr(pub)).decode()
    return sshstr(b"ssh-ed25519") + sshstr(secret + pub), f"ssh-ed25519 {line}"


def recipe_entries(recipe: Recipe, workloads: dict[str, bytes], seed: str) -> list[cpio.Entry]:
    """Entries the recipe itself defines: dirs, files, symlinks, workloads, host key."""
    out = [cpio.directory(p, m) for p, m in recipe.dirs]
    if recipe.ssh_host_key:
        out.append(cpio.file(recipe.ssh_host_key, host_key(seed)[0], 0o600))
    out += [cpio.file(p, data, m) for p, data, m in recipe.files]
    out += [cpio.symlink(p, t) for p, t in recipe.symlinks]
    if recipe.workloads:
        out += [cpio.file(f"{recipe.workloads}/{n}", b, 0o755)
                for n, b in sorted(workloads.items())]
    return out


def applet_links(recipe: Recipe, busybox: bytes, exists: Any) -> list[cpio.Entry]:
    """Symlinks to busybox for every applet no other file in /bin, /sbin, /usr/{bin,sbin} has."""
    if recipe.busybox is None:
        return []
    binary, links = recipe.busybox
    dirs = ("bin", "sbin", "usr/bin", "usr/sbin")
    names = [a for a in elf.busybox_applets(busybox) if not any(exists(f"{d}/{a}") for d in dirs)]
    return [cpio.symlink(f"{links}/{a}", binary) for a in names]


def _assemble(recipe: Recipe, profile: arch_mod.ArchProfile, pkgs: list[debian.Package],
              workloads: dict[str, bytes],
              seed: str) -> tuple[list[cpio.Entry], list[debian.Package]]:
    tree = Tree({p.name: p for p in pkgs})
    for name in recipe.packages:
        tree.load(name)
    col = _Collector(tree, profile)
    for path in recipe.install:
        col.install(path)
    entries = dict(col.entries)
    entries.update((e.name, e) for e in recipe_entries(recipe, workloads, seed))
    if recipe.busybox:
        bb = entries.get(cpio.norm(recipe.busybox[0]))
        if bb is None:
            raise UserError(f"{recipe.path}: busybox binary {recipe.busybox[0]} is not installed")
        entries.update((e.name, e) for e in applet_links(recipe, bb.data, entries.__contains__))
    entries.setdefault("dev/console", cpio.chardev("dev/console", 5, 1))
    used = [p for p in tree.loaded if p.name in col.used]
    return list(entries.values()), used


# ---------------------------------------------------------------- initramfs (public)

def image_lock(arch: str, kind: str) -> contextlib.AbstractContextManager[None]:
    """The lock serialising builds of one kind of image for one arch. One per kind, so a
    long build (a cloud image: minutes) never makes a test wait that needs another kind."""
    return file_lock(cache_dir("images", arch) / f".{kind}.lock")


def initramfs(arch: str, *, refresh: bool = False) -> Path:
    """The cached base initramfs (newc cpio) for `arch`, built from images/initramfs.yaml."""
    return build_initramfs(arch, IMAGES / "initramfs.yaml", WORKLOADS, refresh=refresh)


def build_initramfs(arch: str, recipe_path: Path, workloads_dir: Path, *,
                    refresh: bool = False) -> Path:
    """initramfs() with an explicit recipe and workload directory (tests, custom images)."""
    profile = arch_mod.get(arch)
    recipe = load_recipe(recipe_path)
    log.info("image: resolving %s packages for %s (Debian %s)", recipe.path.name, arch,
             recipe.suite)
    if refresh:
        refresh_archive(recipe.suite)
    pkgs = closure(recipe.packages, recipe.suite, profile.debian_arch) if recipe.packages else []
    sources = workload_sources(workloads_dir) if recipe.workloads else []
    inputs = {"kind": "initramfs", "arch": profile.name, "recipe": recipe.sources,
              "packages": [(p.name, p.sha256) for p in pkgs], "builder": BUILDER,
              "workloads": workload_inputs(profile, sources, workloads_dir)}
    key = stable_hash(inputs)
    out = cache_dir("images", profile.name) / f"initramfs-{key[:16]}.cpio"
    if out.exists() and not refresh:
        log.info("image: cached %s", out)
        return mark_used(out)
    with image_lock(profile.name, "initramfs"):
        if out.exists() and not refresh:
            return out
        try:
            _build_initramfs(recipe, profile, pkgs, (sources, workloads_dir), out, key)
            return out
        except UserError as e:    # a cached index names .debs the mirror has dropped since
            if refresh or not e.what.startswith("not in the Debian archive"):
                raise
            log.warning("image: %s: refreshing the Debian index", e.what)
    return build_initramfs(arch, recipe_path, workloads_dir, refresh=True)


def refresh_archive(suite: str) -> None:
    debian.inrelease(suite, refresh=True)
    _index.cache_clear()


def _build_initramfs(recipe: Recipe, profile: arch_mod.ArchProfile, pkgs: list[debian.Package],
                     workloads: tuple[list[Path], Path], out: Path, key: str) -> None:
    start = time.monotonic()
    sources, workloads_dir = workloads
    with tempfile.TemporaryDirectory(prefix="kharness-img-") as tmp:
        if any(s.suffix == ".c" for s in sources):
            log.info("image: compiling guest workloads with %s", arch_mod.guest_cc(profile))
        binaries = compile_workloads(profile, sources, Path(tmp), workloads_dir)
    log.info("image: assembling initramfs %s for %s", key[:16], profile.name)
    entries, used = _assemble(recipe, profile, pkgs, binaries, key)
    data = cpio.pack(entries)
    write_json(info_path(out), {
        "kind": "initramfs", "arch": profile.name, "recipe": str(recipe.path),
        "recipe_sources": dict(recipe.sources), "suite": recipe.suite, "key": key,
        "packages": [_pkg_info(p) for p in used], "workloads": sorted(binaries),
        "ssh_host_key": host_key(key)[1] if recipe.ssh_host_key else None,
        "sha256": sha256_bytes(data), "size": len(data), "entries": len(entries)})
    atomic_write(out, data)
    log.info("image: wrote %s (%d entries, %.1f MB) in %.1fs", out, len(entries),
             len(data) / 1e6, time.monotonic() - start)


def _pkg_info(p: debian.Package) -> dict[str, Any]:
    return {"name": p.name, "version": p.version, "sha256": p.sha256, "filename": p.filename}


def info_path(image: Path) -> Path:
    return image.with_name(image.name + ".json")


def image_info(path: Path) -> dict[str, Any]:
    """Metadata of a cached image (recipe, packages with versions and sha256, content hash)."""
    if not path.exists():
        raise UserError(f"no such image: {path}")
    sidecar = info_path(path)
    info: dict[str, Any] = json.loads(sidecar.read_text()) if sidecar.exists() else {}
    if not info:
        info.update(kind="unknown", sha256=sha256_file(path), size=path.stat().st_size)
    return {**info, "path": str(path)}


def overlay_cpio(base: Path, files: dict[str, bytes], out: Path) -> Path:
    """`base` followed by a small archive of `files` (path -> content) written to `out`.

    Files starting with "#!" or an ELF header are 0755, others 0644; parents are 0755.
    """
    entries = [cpio.file(p, d, 0o755 if d[:2] == b"#!" or d[:4] == b"\x7fELF" else 0o644)
               for p, d in files.items()]
    head = base.read_bytes()
    head += b"\0" * (-len(head) % 4)
    atomic_write(out, head + cpio.pack(entries))
    return out
