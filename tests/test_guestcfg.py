"""The config's guest section (harness.guestcfg) and how the plugin boots from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from harness import arch, config, guestcfg, plugin
from harness.errors import UserError
from harness.kernel import kconfig


def test_defaults_match_what_the_plugin_used_before() -> None:
    g = guestcfg.parse(None)
    assert (g.mem, g.cpus, g.zram, g.cmdline, g.numa_nodes) == ("1G", 2, "256M", (), 0)
    assert g.kernel_cmdline == () and g.machine_numa_nodes == 0


def test_emulated_numa_is_a_command_line_not_a_machine() -> None:
    g = guestcfg.parse({"numa_nodes": 2, "cmdline": ["quiet"], "zram": None})
    assert g.kernel_cmdline == ("quiet", "numa=fake=2") and g.machine_numa_nodes == 0
    assert g.zram is None


def test_machine_numa_goes_to_qemu() -> None:
    g = guestcfg.parse({"numa_nodes": 4, "numa": "machine"})
    assert g.machine_numa_nodes == 4 and g.kernel_cmdline == ()


@pytest.mark.parametrize("section, match", [
    ({"numa_nodes": 1}, "numa_nodes 1 is not a NUMA guest"),
    ({"numa_nodes": "two"}, "numa_nodes must be an integer"),
    ({"numa": "fake"}, "numa must be emulated or machine"),
    ({"cpus": 0}, "cpus must be an integer >= 1"),
    ({"nodes": 2}, "unknown guest key nodes"),
])
def test_bad_values_are_user_errors_naming_the_file(section: dict[str, Any], match: str) -> None:
    with pytest.raises(UserError, match=match) as e:
        guestcfg.parse(section, "x.yaml")
    assert e.value.what.startswith("x.yaml: ")


def test_racers_fragment_brings_numa_emulation_without_acpi() -> None:
    for name in ("x86_64", "arm64"):
        frags = (*config.DEFAULT_FRAGMENTS, "racers")
        req = kconfig.merge(kconfig.collect(frags, (), arch.get(name)))
        on = {n for n, v, _ in req.options if v == "y"}
        assert {"CONFIG_NUMA", "CONFIG_NUMA_EMU", "CONFIG_MIGRATION", "CONFIG_KSM",
                "CONFIG_USERFAULTFD", "CONFIG_MEMCG", "CONFIG_IDLE_PAGE_TRACKING",
                "CONFIG_NUMA_BALANCING", "CONFIG_PAGE_TABLE_CHECK", "CONFIG_DEBUG_VM"} <= on
        assert "CONFIG_ACPI" not in on and "CONFIG_PCI" not in on


class RecordingVM:
    made: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, image: Path, arch: str, **kw: Any) -> None:
        RecordingVM.made.append({"arch": arch, **kw})

    def start(self) -> None:
        pass


def test_plugin_boots_with_the_guest_settings(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    cfg_path = tmp_path / "kh.yaml"
    cfg_path.write_text("kernel: {source: {git: /nonexistent, ref: main}}\narchs: [arm64]\n"
                        "variants: [baseline]\nguest: {mem: 2G, numa_nodes: 2}\n")
    cfg = config.load(str(cfg_path))
    st = plugin.KharnessState(None, cfg, [], [], "session", None, tmp_path)  # type: ignore[arg-type]
    monkeypatch.setattr("harness.machine.vm.VM", RecordingVM)
    monkeypatch.setattr(plugin.KharnessState, "kernel",
                        lambda self, t: type("K", (), {"image": tmp_path / "Image"})())
    st.vm(plugin.Target("arm64", "baseline"))
    made = RecordingVM.made[-1]
    assert made["mem"] == "2G" and made["numa_nodes"] == 0
    assert "numa=fake=2" in made["cmdline_extra"]
