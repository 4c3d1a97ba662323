"""systemd notify protocol over a real AF_UNIX datagram socket."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tagger.logs.redact import REDACTOR
from tagger.service.notify import Notifier


@pytest.fixture
def sock_path() -> Iterator[Path]:
    # Short directory: AF_UNIX paths are limited to 108 bytes.
    directory = Path(tempfile.mkdtemp(prefix="tn-", dir="/tmp"))
    yield directory / "notify"
    shutil.rmtree(directory)


def receiver(address: str | bytes) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(10)
    return sock


def fields(sock: socket.socket) -> list[str]:
    return sock.recv(4096).decode().split("\n")


def test_messages_reach_a_path_socket(sock_path: Path) -> None:
    recv = receiver(str(sock_path))
    n = Notifier.from_env({"NOTIFY_SOCKET": str(sock_path)})
    assert n.enabled
    try:
        assert n.ready()
        assert fields(recv) == ["READY=1"]
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        assert n.reloading()
        reload_fields = fields(recv)
        after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        assert reload_fields[0] == "RELOADING=1"
        key, value = reload_fields[1].split("=")
        assert key == "MONOTONIC_USEC" and before <= int(value) <= after
        assert n.status("cycle 3: 10 scanned\nsecond line")
        assert fields(recv) == ["STATUS=cycle 3: 10 scanned second line"]
        assert n.watchdog()
        assert fields(recv) == ["WATCHDOG=1"]
        assert n.stopping()
        assert fields(recv) == ["STOPPING=1"]
        assert n.ready("reloaded")
        assert fields(recv) == ["READY=1", "STATUS=reloaded"]
    finally:
        n.close()
        recv.close()


def test_status_is_redacted(sock_path: Path) -> None:
    REDACTOR.add_secret("notify-secret-77aa")
    recv = receiver(str(sock_path))
    n = Notifier.from_env({"NOTIFY_SOCKET": str(sock_path)})
    n.status("auth failed with notify-secret-77aa")
    assert fields(recv) == ["STATUS=auth failed with ***"]
    n.close()
    recv.close()


def test_abstract_namespace_socket() -> None:
    name = f"tagger-test-{uuid.uuid4().hex}"
    recv = receiver(b"\0" + name.encode())
    n = Notifier.from_env({"NOTIFY_SOCKET": f"@{name}"})
    try:
        assert n.ready()
        assert fields(recv) == ["READY=1"]
    finally:
        n.close()
        recv.close()


def test_no_socket_means_no_op() -> None:
    n = Notifier.from_env({})
    assert not n.enabled
    assert not n.ready() and not n.watchdog() and not n.status("x")
    assert n.watchdog_interval() is None


def test_missing_socket_does_not_raise(sock_path: Path) -> None:
    n = Notifier.from_env({"NOTIFY_SOCKET": str(sock_path)})  # nobody listening
    assert n.ready() is False


def test_watchdog_interval() -> None:
    me = str(os.getpid())
    n = Notifier.from_env({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": me})
    assert n.watchdog_interval() == 30.0
    assert Notifier.from_env({"WATCHDOG_USEC": "1500000"}).watchdog_interval() == 1.5
    other = Notifier.from_env({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"})
    assert other.watchdog_interval() is None  # meant for another process
    assert Notifier.from_env({"WATCHDOG_USEC": "junk"}).watchdog_interval() is None
