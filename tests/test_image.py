"""Guest images: newc writer, ELF resolution, caching, overlay, cloud seed; real builds marked."""

from __future__ import annotations

import base64
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from harness import arch, util
from harness.errors import UserError
from harness.image import cpio, elf, rootfs
from harness.image import initramfs as image

HOST = arch.host_profile()
needs_host_profile = pytest.mark.skipif(HOST is None, reason="host arch has no kharness profile")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("KHARNESS_CACHE", str(root))
    return root


def sample_entries() -> list[cpio.Entry]:
    return [cpio.file("/etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
            cpio.file("bin/odd", b"12345", 0o755),
            cpio.symlink("/bin/sh", "busybox"),
            cpio.directory("/tmp", 0o1777),
            cpio.chardev("/dev/console", 5, 1)]


# ------------------------------------------------------------------ newc writer

def test_newc_round_trip_adds_parents_and_sorts() -> None:
    data = cpio.pack(sample_entries())
    names = [e.name for e in cpio.unpack(data)]
    assert names == sorted(names)
    assert {"bin", "dev", "etc", "tmp"} <= set(names)
    by_name = {e.name: e for e in cpio.unpack(data)}
    assert by_name["bin/odd"].data == b"12345" and stat.S_IMODE(by_name["bin/odd"].mode) == 0o755
    assert by_name["bin/sh"].is_symlink and by_name["bin/sh"].data == b"busybox"
    assert by_name["tmp"].mode == stat.S_IFDIR | 0o1777
    assert by_name["dev/console"].rdev == (5, 1)


def test_newc_is_deterministic_and_padded() -> None:
    a = cpio.pack(sample_entries())
    b = cpio.pack(list(reversed(sample_entries())))
    assert a == b
    assert len(a) % 512 == 0
    assert a.rstrip(b"\0").endswith(b"TRAILER!!!")


def test_newc_rejects_dotdot() -> None:
    with pytest.raises(UserError):
        cpio.file("../etc/x", b"")


@pytest.mark.skipif(shutil.which("cpio") is None, reason="no cpio tool")
def test_newc_readable_by_gnu_cpio(tmp_path: Path) -> None:
    archive = tmp_path / "a.cpio"
    archive.write_bytes(cpio.pack([e for e in sample_entries() if not stat.S_ISCHR(e.mode)]))
    listing = subprocess.run(["cpio", "-it"], stdin=archive.open("rb"), capture_output=True,
                             text=True, check=True).stdout.split()
    assert "etc/passwd" in listing and "bin/sh" in listing
    out = tmp_path / "x"
    out.mkdir()
    subprocess.run(["cpio", "-idm", "--quiet"], stdin=archive.open("rb"), cwd=out, check=True)
    assert (out / "etc/passwd").read_bytes().startswith(b"root:")
    assert os.readlink(out / "bin/sh") == "busybox"


def test_overlay_concatenates_after_base(tmp_path: Path) -> None:
    base = tmp_path / "base.cpio"
    base.write_bytes(cpio.pack(sample_entries()))
    out = image.overlay_cpio(base, {"etc/kharness/authorized_keys": b"ssh-ed25519 AAAA k\n",
                                    "etc/passwd": b"over\n", "usr/bin/x": b"#!/bin/sh\n"},
                             tmp_path / "run.cpio")
    data = out.read_bytes()
    assert data.startswith(base.read_bytes())
    second = len(base.read_bytes())
    assert second % 4 == 0 and data[second:second + 6] == cpio.MAGIC
    assert data.count(b"TRAILER!!!") == 2
    entries = cpio.unpack(data)
    last = {e.name: e for e in entries}          # later archive wins, as in the kernel
    assert last["etc/passwd"].data == b"over\n"
    assert last["etc/kharness/authorized_keys"].data.startswith(b"ssh-ed25519")
    assert stat.S_IMODE(last["usr/bin/x"].mode) == 0o755
    assert "etc/kharness" in last


# ------------------------------------------------------------------ ELF

def _readelf(path: str, flag: str) -> str:
    return subprocess.run(["readelf", flag, path], capture_output=True, text=True,
                          check=True).stdout


@pytest.mark.skipif(shutil.which("readelf") is None, reason="no readelf")
def test_dt_needed_of_a_host_binary_matches_readelf() -> None:
    path = os.path.realpath(sys.executable)
    info = elf.parse_elf(Path(path).read_bytes())
    assert info is not None
    needed = [ln.split("[")[1].rstrip("]") for ln in _readelf(path, "-d").splitlines()
              if "(NEEDED)" in ln]
    assert list(info.needed) == needed
    interp = [ln.split(": ")[1].rstrip("]") for ln in _readelf(path, "-l").splitlines()
              if "program interpreter" in ln]
    assert info.interp == (interp[0] if interp else None)


def test_parse_elf_of_non_elf() -> None:
    assert elf.parse_elf(b"#!/bin/sh\n") is None


@pytest.mark.parametrize("name", ["x86_64", "arm64"])
def test_parse_elf_of_cross_compiled_binaries(tmp_path: Path, name: str) -> None:
    profile = arch.get(name)
    cc = arch.guest_cc(profile)
    if shutil.which(cc) is None:
        pytest.skip(f"no {cc}")
    src = tmp_path / "t.c"
    src.write_text("#include <math.h>\nint main(int c, char **v) { return (int)sqrt(c); }\n")
    for flags, static in (([], False), (["-static"], True)):
        exe = tmp_path / f"t{static}"
        subprocess.run([cc, *flags, "-o", str(exe), str(src), "-lm"], check=True)
        info = elf.parse_elf(exe.read_bytes())
        assert info is not None and info.machine == image.ELF_MACHINES[name]
        if static:
            assert info.interp is None and info.needed == ()
        else:
            assert info.interp and "libc.so.6" in info.needed and "libm.so.6" in info.needed


def test_busybox_applet_table() -> None:
    blob = b"junk\0[\0[[\0acpid\0ls\0mkswap\0\0more"
    assert elf.busybox_applets(blob) == ["[", "[[", "acpid", "ls", "mkswap"]
    assert elf.busybox_applets(b"no table") == []


# ------------------------------------------------------------------ packages

def test_dependency_names_take_the_first_known_alternative() -> None:
    known = {"libc6": 1, "libbar": 1, "python3": 1}
    deps = "libc6 (>= 2.34), libfoo | libbar (>= 1), python3:any, virtual-only"
    assert image.dependency_names(deps, known) == ["libc6", "libbar", "python3"]


def test_tree_resolves_absolute_and_relative_symlinks() -> None:
    tree = image.Tree({})
    tree.nodes.update({
        "lib/x86_64-linux-gnu/ld.so.2": image._Node("file", 0o755, b"LD"),
        "lib64/ld.so.2": image._Node("link", 0o777, target="/lib/x86_64-linux-gnu/ld.so.2"),
        "usr/lib/libz.so.1": image._Node("link", 0o777, target="libz.so.1.2"),
        "usr/lib/libz.so.1.2": image._Node("file", 0o644, b"Z"),
        "libdir": image._Node("link", 0o777, target="usr/lib"),
    })
    assert tree.file("/lib64/ld.so.2").data == b"LD"          # type: ignore[union-attr]
    assert tree.resolve("libdir/libz.so.1") == "usr/lib/libz.so.1.2"
    assert tree.file("usr/lib/missing") is None


# ------------------------------------------------------------------ recipes, keys

def write_recipe(directory: Path, extra: str = "") -> Path:
    (directory / "init").write_text("#!/bin/busybox sh\necho hi\n")
    recipe = directory / "tiny.yaml"
    recipe.write_text(
        "suite: bookworm\npackages: []\nworkloads: /usr/local/bin\n"
        "ssh_host_key: /etc/dropbear/dropbear_ed25519_host_key\n"
        "dirs: [/proc, {path: /root, mode: '0700'}]\n"
        "symlinks: {/sbin/init: ../init}\n"
        "files:\n  - {path: /init, src: init, mode: '0755'}\n"
        "  - {path: /etc/passwd, text: \"root:x:0:0::/root:/bin/sh\\n\"}\n" + extra)
    return recipe


def test_recipe_rejects_unknown_keys_and_bad_modes(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown keys"):
        image.load_recipe(write_recipe(tmp_path, "pakages: [x]\n"))
    with pytest.raises(UserError, match="bad mode"):
        image.load_recipe(write_recipe(tmp_path, "  - {path: /x, text: y, mode: rwx}\n"))


def test_host_key_is_dropbear_format_and_deterministic() -> None:
    import paramiko
    blob, public = image.host_key("seed")
    assert (blob, public) == image.host_key("seed") and public != image.host_key("other")[1]
    assert len(blob) == 4 + 11 + 4 + 64 and blob[4:15] == b"ssh-ed25519"
    key = paramiko.Ed25519Key(data=base64.b64decode(public.split()[1]))
    assert blob[-32:] == key.asbytes()[-32:]                  # public half stored after seed


@pytest.mark.parametrize("name", ["initramfs.yaml", "rootfs.yaml"])
def test_shipped_recipes_are_valid(name: str) -> None:
    recipe = image.load_recipe(image.IMAGES / name)
    assert "dropbear-bin" in recipe.packages and recipe.busybox is not None
    assert any(data.startswith(b"#!/bin/busybox sh") for _p, data, _m in recipe.files)


# ------------------------------------------------------------------ caching

@needs_host_profile
def test_build_is_cached_and_keyed_on_inputs(tmp_path: Path, cache: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    assert HOST is not None
    if shutil.which(arch.guest_cc(HOST)) is None:
        pytest.skip("no compiler")
    recipe, workloads = write_recipe(tmp_path), tmp_path / "workloads"
    (workloads / "lib").mkdir(parents=True)          # linked into every binary, not one
    (workloads / "lib" / "khlib.h").write_text("int khlib(void);\n")
    (workloads / "lib" / "khlib.c").write_text("int khlib(void) { return 0; }\n")
    (workloads / "khtrue.c").write_text('#include "khlib.h"\nint main(void) { return khlib(); }\n')
    first = image.build_initramfs(HOST.name, recipe, workloads)
    assert first.parent == cache / "images" / HOST.name

    def no_rebuild(*args: object) -> None:
        raise AssertionError("rebuilt although nothing changed")
    os.utime(first, (1_000_000, 1_000_000))         # a hit marks it used (cache prune)
    with monkeypatch.context() as m:
        m.setattr(image, "_build_initramfs", no_rebuild)
        assert image.build_initramfs(HOST.name, recipe, workloads) == first
    assert first.stat().st_mtime > 1_000_000

    entries = {e.name: e for e in cpio.unpack(first.read_bytes())}
    exe = elf.parse_elf(entries["usr/local/bin/khtrue"].data)
    assert exe is not None and exe.interp is None                      # static
    assert stat.S_IMODE(entries["init"].mode) == 0o755 and "dev/console" in entries
    info = image.image_info(first)
    assert info["sha256"] == util.sha256_file(first) and info["workloads"] == ["khtrue"]
    assert info["ssh_host_key"].startswith("ssh-ed25519 ")

    (workloads / "khtrue.c").write_text("int main(void) { return 1; }\n")
    second = image.build_initramfs(HOST.name, recipe, workloads)
    (tmp_path / "init").write_text("#!/bin/busybox sh\necho changed\n")
    third = image.build_initramfs(HOST.name, recipe, workloads)
    (workloads / "lib" / "khlib.c").write_text("int khlib(void) { return 2; }\n")
    fourth = image.build_initramfs(HOST.name, recipe, workloads)
    assert len({first, second, third, fourth}) == 4 and first.exists()


@needs_host_profile
def test_broken_workload_is_a_user_error(tmp_path: Path, cache: Path) -> None:
    assert HOST is not None
    workloads = tmp_path / "w"
    workloads.mkdir()
    (workloads / "bad.c").write_text("int main(void) { return }\n")
    with pytest.raises(UserError, match="bad.c"):
        image.build_initramfs(HOST.name, write_recipe(tmp_path), workloads)


@needs_host_profile
def test_a_stale_archive_index_is_refreshed_once(tmp_path: Path, cache: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    assert HOST is not None
    calls: list[object] = []
    real = image._build_initramfs

    def flaky(*args: object) -> None:
        calls.append("build")
        if calls.count("build") == 1:
            raise UserError("not in the Debian archive: http://deb/x.deb", "HTTP 404")
        real(*args)  # type: ignore[arg-type]
    monkeypatch.setattr(image, "_build_initramfs", flaky)
    monkeypatch.setattr(image, "refresh_archive", calls.append)
    out = image.build_initramfs(HOST.name, write_recipe(tmp_path), tmp_path / "no-workloads")
    assert out.exists() and calls == ["build", "bookworm", "build"]


def test_materialize_replaces_directories_and_files(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "var/run").mkdir(parents=True)
    (root / "bin").mkdir()
    (root / "bin/sh").write_text("dash")
    rootfs._materialize(root, [cpio.symlink("/var/run", "../run"),
                              cpio.symlink("/bin/sh", "busybox"),
                              cpio.file("/usr/local/bin/w", b"x", 0o755)])
    assert os.readlink(root / "var/run") == "../run" and os.readlink(root / "bin/sh") == "busybox"
    assert stat.S_IMODE((root / "usr/local/bin/w").stat().st_mode) == 0o755


# ------------------------------------------------------------------ real images

def _resolve(entries: dict[str, cpio.Entry], path: str) -> cpio.Entry:
    """Follow symlinks inside the archive, as the guest will."""
    for _ in range(40):
        parts = [p for p in path.split("/") if p]
        for i in range(1, len(parts) + 1):
            e = entries.get("/".join(parts[:i]))
            if e is not None and e.is_symlink:
                target = e.data.decode()
                base = "" if target.startswith("/") else "/".join(parts[:i - 1])
                path = "/".join([base, target, *parts[i:]])
                break
        else:
            return entries["/".join(parts)]
    raise AssertionError(f"symlink loop at {path}")


@pytest.mark.integration
@pytest.mark.parametrize("name", ["x86_64", "arm64"])
def test_real_initramfs_has_ssh_server_and_all_its_libraries(name: str, tmp_path: Path) -> None:
    path = image.initramfs(name)
    data = path.read_bytes()
    entries = {e.name: e for e in cpio.unpack(data)}
    for must in ("init", "bin/busybox", "bin/sh", "bin/mount", "bin/ip", "bin/mkswap",
                 "usr/sbin/dropbear", "usr/lib/sftp-server", "etc/passwd", "dev/console",
                 "etc/dropbear/dropbear_ed25519_host_key", "root/.ssh"):
        assert must in entries, must
    triplet = image.TRIPLETS[arch.get(name).debian_arch]
    libdirs = (f"lib/{triplet}", f"usr/lib/{triplet}", "lib", "usr/lib")
    todo, seen = ["usr/sbin/dropbear", "usr/lib/sftp-server"], set[str]()
    while todo:
        info = elf.parse_elf(_resolve(entries, todo.pop()).data)
        assert info is not None and info.machine == image.ELF_MACHINES[name]
        if info.interp:
            _resolve(entries, info.interp)                     # the dynamic loader is there
        for soname in set(info.needed) - seen:
            seen.add(soname)
            hits = [f"{d}/{soname}" for d in libdirs if f"{d}/{soname}" in entries]
            assert hits, f"{soname} missing"
            todo.append(hits[0])
    assert {"libc.so.6", "libtomcrypt.so.1", "libz.so.1", "libcrypt.so.1"} <= seen
    meta = image.image_info(path)
    assert meta["sha256"] == util.sha256_bytes(data) and meta["arch"] == name
    pkgs = {p["name"]: p for p in meta["packages"]}
    assert {"busybox-static", "dropbear-bin", "libc6", "libtomcrypt1", "libgmp10"} <= set(pkgs)
    assert all(len(p["sha256"]) == 64 and p["version"] for p in pkgs.values())
    _run_from_image(name, entries, tmp_path)


def _run_from_image(name: str, entries: dict[str, cpio.Entry], tmp_path: Path) -> None:
    """Run the image's busybox and dropbear on the host (native via chroot, or qemu-user)."""
    root = tmp_path / "root"
    rootfs._materialize(root, [e for e in entries.values() if not stat.S_ISCHR(e.mode)])
    host = arch.host_profile()
    emulator = shutil.which(f"qemu-{'aarch64' if name == 'arm64' else 'x86_64'}-static")
    if host is not None and host.name == name and os.geteuid() == 0:
        prefix = ["chroot", str(root)]
    elif emulator:
        prefix = [emulator, "-L", str(root)]
        if host is not None and host.name == name:
            pytest.skip("qemu-user -L falls back to host libraries for a native arch")
    else:
        pytest.skip("cannot run guest binaries here (need root for chroot, or qemu-user-static)")

    def guest(*argv: str) -> subprocess.CompletedProcess[str]:
        exe = argv[0] if prefix[0] == "chroot" else str(root) + argv[0]
        return subprocess.run([*prefix, exe, *argv[1:]], capture_output=True, text=True,
                              timeout=60, check=False)
    applets = guest("/bin/busybox", "--list").stdout.split()
    assert applets == elf.busybox_applets(entries["bin/busybox"].data)
    version = guest("/usr/sbin/dropbear", "-V")
    assert "Dropbear" in version.stdout + version.stderr, version


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("name", ["x86_64", "arm64"])
def test_real_rootfs_disk(name: str) -> None:
    if os.geteuid() != 0 or shutil.which("mmdebstrap") is None or shutil.which("debugfs") is None:
        pytest.skip("needs root, mmdebstrap and debugfs")
    disk = rootfs.rootfs_disk(name)

    def debugfs(request: str) -> str:
        return subprocess.run(["debugfs", "-R", request, str(disk)], capture_output=True,
                              text=True, check=True).stdout
    assert debugfs("cat /kharness-init") == (image.IMAGES / "init").read_text()
    assert debugfs("cat /etc/passwd").startswith("root:x:0:0:")
    for path in ("/usr/bin/python3", "/usr/bin/stress-ng", "/usr/sbin/dropbear", "/bin/busybox",
                 "/bin/sh", "/bin/ls", "/etc/dropbear/dropbear_ed25519_host_key", "/root/.ssh"):
        assert "Inode:" in debugfs(f"stat {path}"), path
    info = image.image_info(disk)
    assert info["kind"] == "rootfs" and "python3" in info["packages"]
