"""Files kharness ships inside its package, found with importlib.resources.

    kernel/kconfigs/       kconfig fragments (top-level `kconfigs/` in a checkout points here)
    image/recipes/         image recipes and the guest init (top-level `images/`)
    guest_tests/           the default guest suite and its C workloads (top-level `guest_tests/`)
    report/templates/      jinja2 templates of the HTML reports

The package owns these and the checkout's top-level folders are symlinks into it, so a
wheel, a `pipx install` and a checkout all read the same files and nothing outside the
package is assumed. They are read as real files (gcc compiles the workloads, QEMU and
cpio read the init), so kharness must be installed unzipped (pip always does).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from harness.errors import InfrastructureError


def data_path(*parts: str) -> Path:
    """A file or folder shipped in the harness package, as a filesystem path."""
    base = resources.files("harness")
    if not isinstance(base, Path):
        raise InfrastructureError(f"the harness package is not on a filesystem ({base})",
                                  "kharness reads its data files as real files",
                                  "install kharness with pip (unzipped), not as a zip")
    return base.joinpath(*parts)


def kconfig_dir() -> Path:
    return data_path("kernel", "kconfigs")


def recipe_dir() -> Path:
    return data_path("image", "recipes")


def suite_dir() -> Path:
    """The default guest test suite; run with rootdir = its parent, so node ids read
    `guest_tests/test_x.py::...` whether kharness runs from a checkout or a wheel."""
    return data_path("guest_tests")


def workload_dir() -> Path:
    return data_path("guest_tests", "workloads")
