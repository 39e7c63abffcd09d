"""Error taxonomy.

UserError            bad input (YAML, arch, paths); says how to fix it.          exit 2
InfrastructureError  the rig broke (QEMU, SSH, toolchain, network, disk).          exit 2
KernelFailure        a *finding*: the kernel under test crashed, locked up, splat. exit 1
HarnessBug           an internal invariant failed.                               exit 2

Only InfrastructureError is ever retried; a finding is never retried away.
"""

from __future__ import annotations


class KharnessError(Exception):
    exit_code = 2
    label = "error"

    def __init__(self, what: str, why: str = "", fix: str = "") -> None:
        self.what, self.why, self.fix = what, why, fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        line = f"{self.what}: {self.why}" if self.why else self.what
        return f"{line} (fix: {self.fix})" if self.fix else line


class UserError(KharnessError):
    label = "usage error"


class InfrastructureError(KharnessError):
    label = "infrastructure error"


class KernelFailure(KharnessError):
    exit_code = 1
    label = "kernel failure"


class HarnessBug(KharnessError):
    label = "harness bug"
