"""exec_bounded: the exec request of a guest that stops answering cannot hang the harness."""

from __future__ import annotations

import threading
import time

import paramiko
import pytest

from harness.guest.ssh import exec_bounded


class SilentChannel:
    """paramiko.Channel's exec semantics: wait (no timeout) for the guest's reply event,
    which close() also sets; then raise "Channel closed." if no reply came."""

    def __init__(self, answers: bool) -> None:
        self.event, self.answers, self.closed = threading.Event(), answers, False

    def exec_command(self, command: str) -> None:
        if self.answers:
            self.event.set()
        self.event.wait()
        if self.closed:
            raise paramiko.SSHException("Channel closed.")

    def close(self) -> None:
        self.closed = True
        self.event.set()


def test_a_silent_guest_ends_the_exec_request_at_the_deadline() -> None:
    chan = SilentChannel(answers=False)
    t0 = time.monotonic()
    with pytest.raises(paramiko.SSHException, match="Channel closed"):
        exec_bounded(chan, "reboot -f", 0.3)  # type: ignore[arg-type]
    assert 0.25 < time.monotonic() - t0 < 2.0


def test_an_answering_guest_is_not_cut_off() -> None:
    chan = SilentChannel(answers=True)
    exec_bounded(chan, "true", 0.2)  # type: ignore[arg-type]
    time.sleep(0.4)                  # the timer was cancelled: the channel stays open
    assert not chan.closed
