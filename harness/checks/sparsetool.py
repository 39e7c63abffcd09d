"""A sparse that can check the tree: the system's when the tree accepts it, else one built
from Debian sid's source package (verified through the signed Sources index) into the cache.

Linux 7.x needs `__typeof_unqual__` (scripts/checker-valid.sh); Debian 12's sparse 0.6.4
lacks it and make then skips the checker without a word. sid's 0.6.5~rc1 has it; its
binary needs a newer glibc, its source builds here in ~20 s of CPU with just gcc and make.
"""

from __future__ import annotations

import logging
import lzma
import shutil
import tarfile
import tempfile
from pathlib import Path

from harness.errors import InfrastructureError
from harness.sources import debian
from harness.util import atomic_write, cache_dir, file_lock, run, sha256_bytes

log = logging.getLogger("harness")
SUITE = "sid"
SOURCES = "main/source/Sources.xz"


def accepted(tree: Path, sparse: str) -> bool:
    script = tree / "scripts" / "checker-valid.sh"
    if not script.exists():
        return True
    proc = run(["sh", str(script), sparse, "-m64", "-mlittle-endian"], check=False, timeout=60)
    return proc.stdout.strip().endswith("1")


PROBE = "static inline int u(const int *q)\n{\n\t__typeof_unqual__(*q) v = *q;\n\treturn v;\n}\n"


def modern(sparse: str) -> bool:
    """Can `sparse` parse what Linux 7.x headers use (the test of checker-valid.sh)?"""
    with tempfile.NamedTemporaryFile("w", suffix=".c") as f:
        f.write(PROBE)
        f.flush()
        proc = run([sparse, f.name], check=False, timeout=60)
    return "error" not in (proc.stdout + proc.stderr)


def ensure() -> str:
    """A modern sparse (system or cached build, else built now); one line saying which."""
    system = shutil.which("sparse")
    if system and modern(system):
        return f"sparse: {system}"
    built = cached_build() or build_from_debian()
    return f"sparse: {built} (built from Debian {SUITE}'s source; the system's is too old)"


def cached_build() -> Path | None:
    found = sorted(cache_dir("tools").glob("sparse-*/sparse"))
    return found[-1] if found else None


def find(tree: Path) -> tuple[str | None, str]:
    """(sparse to use, "") or (None, why not): system sparse, else the cached build."""
    system = shutil.which("sparse")
    if system and accepted(tree, system):
        return system, ""
    built = cached_build()
    if built and accepted(tree, str(built)):
        return str(built), ""
    have = run([system, "--version"], check=False).stdout.strip() if system else "none"
    return None, (f"sparse check skipped: sparse {have} cannot check this tree "
                  "(scripts/checker-valid.sh: no __typeof_unqual__) (fix: kharness doctor "
                  "--install, which builds sparse from Debian sid's source package)")


def source_stanza() -> dict[str, str]:
    digests = debian.inrelease(SUITE)
    base = f"{debian.mirror_for(SUITE)}/dists/{SUITE}/main/source"
    data = debian.fetch(f"{base}/by-hash/SHA256/{digests[SOURCES]}")
    if sha256_bytes(data) != digests[SOURCES]:
        raise InfrastructureError(f"checksum mismatch for {SUITE}/{SOURCES}",
                                  "the mirror served a file that InRelease does not list")
    text = lzma.decompress(data).decode(errors="replace")
    hits = [s for s in debian.parse_stanzas(text) if s.get("Package") == "sparse"]
    if not hits:
        raise InfrastructureError(f"no sparse source package in Debian {SUITE}")
    return hits[0]


def build_from_debian() -> Path:
    """Download (sha256 from the signed index), build and cache sparse; its path."""
    with file_lock(cache_dir("tools") / "sparse.lock"):
        stanza = source_stanza()
        dest = cache_dir("tools", f"sparse-{stanza['Version']}") / "sparse"
        if dest.exists():
            return dest
        name, sha = _orig(stanza)
        url = f"{debian.mirror_for(SUITE)}/{stanza['Directory']}/{name}"
        log.info("building sparse %s from Debian %s source (%s)", stanza["Version"], SUITE, url)
        data = debian.fetch(url)
        if sha256_bytes(data) != sha:
            raise InfrastructureError(f"checksum mismatch for {name}",
                                      "download does not match the signed Sources index")
        with tempfile.TemporaryDirectory(prefix="kharness-sparse-") as tmp:
            tarball = Path(tmp) / name
            tarball.write_bytes(data)
            with tarfile.open(tarball) as tf:
                tf.extractall(tmp, filter="data")
            srcdir = next(p for p in Path(tmp).iterdir() if p.is_dir())
            run(["make", "-C", str(srcdir), "-j2", "sparse"], timeout=1800)
            atomic_write(dest, (srcdir / "sparse").read_bytes())
        dest.chmod(0o755)
        return dest


def _orig(stanza: dict[str, str]) -> tuple[str, str]:
    for line in stanza.get("Checksums-Sha256", "").splitlines():
        parts = line.split()
        if len(parts) == 3 and ".orig.tar." in parts[2]:
            return parts[2], parts[0]
    raise InfrastructureError("sparse source package has no orig tarball")
