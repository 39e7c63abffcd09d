"""Debian archive access over plain HTTP: InRelease (gpgv when available) -> Packages -> .deb.

Works on hosts without apt: only Python, plus gpgv and debian-archive-keyring for the
signature. Every download is checksum-verified against the archive's signed index chain;
an index whose signature cannot be checked (no gpgv or no keyring: everything came over
plain HTTP) is refused unless the user passed --allow-unsigned (KHARNESS_ALLOW_UNSIGNED=1,
which the CLI sets so that the pytest runs it starts inherit the choice).
"""

from __future__ import annotations

import io
import json
import logging
import lzma
import os
import shutil
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from harness.errors import InfrastructureError, UserError
from harness.util import atomic_write, cache_dir, open_url, sha256_bytes, sha256_file, stable_hash

log = logging.getLogger("harness")

MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://deb.debian.org/debian-security"
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
SUITES = ("sid", "unstable", "experimental", "forky", "trixie", "trixie-security",
          "bookworm", "bookworm-security", "bookworm-updates", "testing", "stable")
INDEX_TTL = 24 * 3600          # re-read the archive's InRelease at most daily
ALLOW_UNSIGNED_ENV = "KHARNESS_ALLOW_UNSIGNED"
_warned_unsigned = False


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    arch: str
    filename: str
    sha256: str
    size: int
    depends: str
    suite: str
    mirror: str

    @property
    def url(self) -> str:
        return f"{self.mirror}/{self.filename}"


def mirror_for(suite: str) -> str:
    return SECURITY_MIRROR if suite.endswith("-security") else MIRROR


def fetch(url: str, timeout: float = 120) -> bytes:
    log.debug("GET %s", url)
    try:
        with open_url(url, timeout) as resp:
            data: bytes = resp.read()
            return data
    except urllib.error.HTTPError as e:
        if e.code == 404:
            raise UserError(f"not in the Debian archive: {url}", "HTTP 404",
                            "check the suite and package name") from e
        raise InfrastructureError(f"download failed: {url}", str(e)) from e
    except (urllib.error.URLError, OSError) as e:
        raise InfrastructureError(f"download failed: {url}", str(e),
                                  "check network access to deb.debian.org") from e


def allow_unsigned() -> bool:
    """The user accepted indexes whose signature cannot be checked (--allow-unsigned)."""
    return os.environ.get(ALLOW_UNSIGNED_ENV, "") not in ("", "0")


def _verify_inrelease(path: Path) -> None:
    global _warned_unsigned
    gpgv = shutil.which("gpgv")
    if gpgv is None or not KEYRING.exists():
        missing = "gpgv" if gpgv is None else str(KEYRING)
        if not allow_unsigned():
            raise InfrastructureError(
                f"cannot check the signature of {path}",
                f"{missing} is missing and the index came over plain HTTP",
                "install gpgv debian-archive-keyring (kharness doctor --install), or pass "
                "--allow-unsigned to use it unchecked")
        if not _warned_unsigned:
            log.warning("%s missing: InRelease signature not checked (--allow-unsigned)",
                        missing)
            _warned_unsigned = True
        return
    proc = subprocess.run([gpgv, "--keyring", str(KEYRING), str(path)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise InfrastructureError(f"bad signature on {path.name}",
                                  proc.stderr.strip().splitlines()[-1:][0] if proc.stderr else "")


def _release_sha256(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    in_sha = False
    for line in text.splitlines():
        if not line.startswith(" "):
            in_sha = line.startswith("SHA256:")
            continue
        if in_sha:
            digest, _size, name = line.split()
            out[name] = digest
    return out


def _index_dir(suite: str) -> Path:
    return cache_dir("debian", "dists", suite)


def inrelease(suite: str, refresh: bool = False) -> dict[str, str]:
    if suite not in SUITES:
        raise UserError(f"unknown Debian suite {suite!r}", f"known: {', '.join(SUITES)}")
    path = _index_dir(suite) / "InRelease"
    stale = path.exists() and time.time() - path.stat().st_mtime > INDEX_TTL
    if refresh or not path.exists() or stale:
        try:
            atomic_write(path, fetch(f"{mirror_for(suite)}/dists/{suite}/InRelease"))
        except InfrastructureError:
            if not path.exists() or refresh:
                raise
            log.warning("could not refresh Debian %s index; using the cached one", suite)
            os.utime(path)
    _verify_inrelease(path)
    return _release_sha256(path.read_text(errors="replace"))


def archive_state(suite: str, debian_arch: str) -> list[str | None]:
    """sha256 of the arch's and arch:all Packages indexes: what a cache key built from this
    suite's packages must change with."""
    digests = inrelease(suite)
    return [digests.get(f"main/binary-{a}/Packages.xz") for a in (debian_arch, "all")]


def packages_index(suite: str, arch: str, component: str = "main") -> list[dict[str, str]]:
    """Parsed Packages stanzas for (suite, component, arch), verified against InRelease."""
    rel = f"{component}/binary-{arch}/Packages.xz"
    path = _index_dir(suite) / rel.replace("/", "_")
    digests = inrelease(suite)
    if rel not in digests:
        raise UserError(f"{suite} has no {rel}", "architecture or component not in this suite")
    if not path.exists() or sha256_file(path) != digests[rel]:
        digests = inrelease(suite, refresh=True)
        # by-hash first (consistent with InRelease even mid-mirror-update), then plain path
        base = f"{mirror_for(suite)}/dists/{suite}/{component}/binary-{arch}"
        try:
            data = fetch(f"{base}/by-hash/SHA256/{digests[rel]}")
        except (UserError, InfrastructureError):
            data = fetch(f"{base}/Packages.xz")
        if sha256_bytes(data) != digests[rel]:
            raise InfrastructureError(f"checksum mismatch for {suite}/{rel}",
                                      "the mirror served a file that InRelease does not list")
        atomic_write(path, data)
    return parse_stanzas(lzma.decompress(path.read_bytes()).decode(errors="replace"))


def parse_stanzas(text: str) -> list[dict[str, str]]:
    stanzas: list[dict[str, str]] = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in block.splitlines():
            if line.startswith((" ", "\t")) and key:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "Package" in fields:
            stanzas.append(fields)
    return stanzas


def find_package(name: str, suite: str, arch: str) -> Package:
    """Newest stanza named `name` for arch (or arch all) in suite (memoised per index)."""
    digests = inrelease(suite)
    key = stable_hash([digests.get(f"main/binary-{a}/Packages.xz") for a in (arch, "all")])
    memo = _index_dir(suite) / f"pkg-{name}-{arch}-{key[:16]}.json"
    if memo.exists():
        return Package(**json.loads(memo.read_text()))
    pkg = _find_package(name, suite, arch)
    atomic_write(memo, json.dumps(pkg.__dict__))
    return pkg


def _find_package(name: str, suite: str, arch: str) -> Package:
    hits: list[dict[str, str]] = []
    errors: list[Exception] = []
    for index_arch in dict.fromkeys((arch, "all")):   # arch indices usually list arch:all too
        try:
            hits += [s for s in packages_index(suite, index_arch) if s["Package"] == name]
        except (UserError, InfrastructureError) as e:
            errors.append(e)
        if hits:
            break
    if not hits and errors and isinstance(errors[0], InfrastructureError):
        raise errors[0]
    if not hits:
        raise UserError(f"package {name} not found in Debian {suite} ({arch})",
                        "no such binary package", f"check the name, e.g. apt-cache policy {name}")
    best = max(hits, key=lambda s: version_key(s["Version"]))
    return Package(name=name, version=best["Version"], arch=best.get("Architecture", arch),
                   filename=best["Filename"], sha256=best["SHA256"], size=int(best["Size"]),
                   depends=best.get("Depends", ""), suite=suite, mirror=mirror_for(suite))


def version_key(version: str) -> tuple[object, ...]:
    import re
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", version))


def download(pkg: Package) -> Path:
    """The verified .deb in the cache (downloaded once)."""
    dest = cache_dir("debian", "pool") / Path(pkg.filename).name
    if dest.exists() and sha256_file(dest) == pkg.sha256:
        return dest
    log.info("downloading %s %s (%d MB) from %s", pkg.name, pkg.version, pkg.size >> 20, pkg.suite)
    data = fetch(pkg.url, timeout=1800)
    if sha256_bytes(data) != pkg.sha256:
        raise InfrastructureError(f"checksum mismatch for {pkg.filename}",
                                  "download does not match the archive's Packages index")
    atomic_write(dest, data)
    return dest


def deb_data_tar(deb: Path) -> tarfile.TarFile:
    """Open the data.tar.* member of a .deb (an ar archive) without dpkg."""
    raw = deb.read_bytes()
    if not raw.startswith(b"!<arch>\n"):
        raise InfrastructureError(f"{deb} is not a Debian package")
    pos = 8
    while pos < len(raw):
        header = raw[pos:pos + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        body = raw[pos + 60:pos + 60 + size]
        if name.startswith("data.tar"):
            if name.endswith(".zst"):
                body = _unzstd(body)
                return tarfile.open(fileobj=io.BytesIO(body), mode="r:")
            return tarfile.open(fileobj=io.BytesIO(body), mode="r:*")
        pos += 60 + size + (size & 1)
    raise InfrastructureError(f"{deb}: no data.tar member")


def _unzstd(data: bytes) -> bytes:
    zstd = shutil.which("zstd")
    if zstd is None:
        raise InfrastructureError("zstd-compressed package but no zstd tool", "",
                                  "apt-get install zstd")
    return subprocess.run([zstd, "-dc"], input=data, capture_output=True, check=True).stdout


def extract(deb: Path, dest: Path) -> None:
    """Unpack a .deb's files under dest (no maintainer scripts run)."""
    with deb_data_tar(deb) as tar:
        tar.extractall(dest, filter="tar")
