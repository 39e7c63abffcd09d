from __future__ import annotations

from pathlib import Path

import pytest

from harness import arch, config
from harness.errors import UserError
from harness.image import cloud
from harness.kernel import kconfig

X86 = arch.get("x86_64")
FAKE = Path(__file__).parent / "fakekernel"


def test_parse_fragment() -> None:
    f = kconfig.parse("# c\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"s\"\n", "f")
    assert f.options == (("CONFIG_A", "y"), ("CONFIG_B", "n"), ("CONFIG_C", '"s"'))


def test_parse_rejects_garbage() -> None:
    with pytest.raises(UserError, match="f:2: not a kconfig line"):
        kconfig.parse("CONFIG_A=y\nA=y\n", "f")


def test_builtin_fragments_resolve_per_arch() -> None:
    files = kconfig.fragment_files("virt", X86)
    assert [p.name for p in files] == ["virt.config", "virt.config"]
    assert files[1].parent.name == "x86_64"
    arm = kconfig.fragment_files("virt", arch.get("arm64"))
    assert arm[1].parent.name == "arm64"


def test_builtin_fragments_request_what_tests_need() -> None:
    req = kconfig.merge(kconfig.collect(config.DEFAULT_FRAGMENTS, (), X86))
    names = {n for n, v, _ in req.options if v == "y"}
    for needed in ("CONFIG_ADVISE_SYSCALLS", "CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES",
                   "CONFIG_X86_MPPARSE", "CONFIG_BLOCK",
                   "CONFIG_ZRAM", "CONFIG_SWAP", "CONFIG_TRANSPARENT_HUGEPAGE",
                   "CONFIG_PROVE_LOCKING", "CONFIG_DEBUG_VM", "CONFIG_PROC_PAGE_MONITOR"):
        assert needed in names
    # root disks (ext4) and systemd are the disk fragment's: not in every build
    assert not set(cloud.KERNEL_NEEDS) & names
    frags = (*config.DEFAULT_FRAGMENTS, config.DISK_FRAGMENT)
    disk = kconfig.merge(kconfig.collect(frags, (), X86))
    assert set(cloud.KERNEL_NEEDS) <= {n for n, v, _ in disk.options if v == "y"}
    # microvm without ACPI/PCI; NUMA guests on q35 get both back from the numa fragment
    assert "CONFIG_ACPI" not in names and "CONFIG_PCI" not in names
    numa = kconfig.merge(kconfig.collect((*config.DEFAULT_FRAGMENTS, "numa"), (), X86))
    assert {"CONFIG_NUMA", "CONFIG_ACPI", "CONFIG_PCI", "CONFIG_VIRTIO_PCI"} <= \
        {n for n, v, _ in numa.options if v == "y"}


def test_unknown_fragment() -> None:
    with pytest.raises(UserError, match="unknown kconfig fragment 'nope'"):
        kconfig.fragment_files("nope", X86)


def test_conflicting_fragments_are_reported() -> None:
    a = kconfig.parse("CONFIG_X=y\n", "a.config")
    b = kconfig.parse("# CONFIG_X is not set\n", "b.config")
    with pytest.raises(UserError, match="CONFIG_X=y in a.config but CONFIG_X=n in b.config"):
        kconfig.merge([a, b])


def test_declared_override_changes_an_earlier_choice() -> None:
    a = kconfig.parse("CONFIG_X=y\nCONFIG_Y=y\n", "a.config")
    b = kconfig.parse("# kharness-overrides: CONFIG_X\n# CONFIG_X is not set\nCONFIG_Z=y\n",
                      "b.config")
    assert b.overrides == frozenset({"CONFIG_X"})
    req = kconfig.merge([a, b])
    assert req.options == (("CONFIG_X", "n", "b.config"), ("CONFIG_Y", "y", "a.config"),
                           ("CONFIG_Z", "y", "b.config"))
    c = kconfig.parse("# CONFIG_Y is not set\n", "c.config")      # not declared: conflict
    with pytest.raises(UserError, match="CONFIG_Y=y in a.config but CONFIG_Y=n in c.config"):
        kconfig.merge([a, b, c])
    with pytest.raises(UserError, match="CONFIG_X=n in b.config but CONFIG_X=y in a.config"):
        kconfig.merge([b, a])                 # an override only wins when listed after
    with pytest.raises(UserError, match="names CONFIG_Q, which it does not set"):
        kconfig.parse("# kharness-overrides: CONFIG_Q\nCONFIG_X=y\n", "d.config")


@pytest.mark.parametrize("frag,page", [("pages-16k", "CONFIG_ARM64_16K_PAGES"),
                                       ("pages-64k", "CONFIG_ARM64_64K_PAGES")])
def test_arm64_page_size_fragments_replace_virts_4k(frag: str, page: str) -> None:
    arm = arch.get("arm64")
    req = {n: v for n, v, _ in kconfig.merge(kconfig.collect(
        (*config.DEFAULT_FRAGMENTS, "racers", frag), (), arm)).options}
    assert req[page] == "y" and req["CONFIG_ARM64_4K_PAGES"] == "n"
    with pytest.raises(UserError, match="unknown kconfig fragment"):
        kconfig.fragment_files(frag, X86)                   # arm64 only


def test_user_options_override() -> None:
    a = kconfig.parse("CONFIG_X=y\n", "a.config")
    req = kconfig.merge([a, kconfig.parse("# CONFIG_X is not set\n", "options")])
    assert req.options == (("CONFIG_X", "n", "options"),)


def test_generate_and_verify_with_fake_tree(tmp_path: Path) -> None:
    req = kconfig.merge([kconfig.parse("CONFIG_SWAP=y\n# CONFIG_64BIT is not set\n", "f")])
    cfg = kconfig.generate(FAKE, tmp_path / "o", X86, req, ["ARCH=x86_64"])
    values = kconfig.read_config(cfg)
    assert values["CONFIG_SWAP"] == "y" and values["CONFIG_64BIT"] == "n"


def test_dropped_option_names_it_and_dependency(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    import shutil
    shutil.copytree(FAKE, tree)
    (tree / "DROP").write_text("CONFIG_NEEDS_FOO\n")
    req = kconfig.merge([kconfig.parse("CONFIG_NEEDS_FOO=y\n", "mine.config")])
    with pytest.raises(UserError) as e:
        kconfig.generate(tree, tmp_path / "o", X86, req, ["ARCH=x86_64"])
    msg = str(e.value)
    assert "CONFIG_NEEDS_FOO=y was dropped" in msg and "mine.config" in msg
    assert "FOO_DEP && 64BIT" in msg and "FOO_DEP=n" in msg and "64BIT=y" in msg


@pytest.mark.parametrize("path,is_input", [
    ("Kconfig", True), ("mm/Kconfig", True), ("arch/x86/Kconfig.debug", True),
    ("scripts/kconfig/conf.c", True), ("scripts/Kconfig.include", True),
    ("kernel/configs/tiny.config", True), ("arch/arm64/configs/defconfig", True),
    ("mm/khugepaged.c", False), ("Makefile", False), ("Documentation/kbuild/kconfig.rst", False),
    ("tools/testing/selftests/mm/config", False)])
def test_kconfig_inputs(path: str, is_input: bool) -> None:
    assert bool(kconfig.KCONFIG_INPUT.search(path)) is is_input
