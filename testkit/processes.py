"""tagger as a real process (``python -m tagger`` in the checkout), and hang-guarded waits."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import IO, Any

from testkit import ROOT

TAGGER = [sys.executable, "-m", "tagger"]


def tagger_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the environment for a tagger child process (no systemd variables)."""
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def run_tagger(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``tagger ARGS`` to completion and return the finished process (text output)."""
    return subprocess.run(  # noqa: S603 - this interpreter, our arguments
        [*TAGGER, *args],
        env=tagger_env(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_tagger(*args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``tagger ARGS`` in the background (stdout and stderr piped, text)."""
    return subprocess.Popen(  # noqa: S603 - this interpreter, our arguments
        [*TAGGER, *args],
        env=tagger_env(env),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# Waits only stop a hung test or benchmark: they are this many times longer
# than the wait takes on an idle machine, so a busy CI machine never fails them.
HANG_GUARD_SLACK = 4.0


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05
) -> None:
    """Poll ``condition`` until it holds; fail the test naming ``what`` after a hang guard.

    ``timeout`` is what the wait takes on an idle machine; the guard is
    :data:`HANG_GUARD_SLACK` times that, so a busy machine never trips it and
    only a hang does.
    """
    guard = timeout * HANG_GUARD_SLACK
    deadline = time.monotonic() + guard
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {guard:g} s waiting for {what}")
        time.sleep(interval)


class Running:
    """A tagger process started in the background, with its output collected as it comes.

    stdout and stderr are read by threads (so the pipes never fill); JSON log
    lines on stderr are parsed into :attr:`events`.
    """

    def __init__(self, *args: str, env: Mapping[str, str] | None = None) -> None:
        self.proc = start_tagger(*args, env=env)
        self.pid = self.proc.pid
        self._lock = threading.Lock()
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: IO[str] | None, into: list[str]) -> None:
        if stream is None:
            return
        for line in stream:
            with self._lock:
                into.append(line)

    @property
    def stdout(self) -> str:
        """Return everything written to stdout so far."""
        with self._lock:
            return "".join(self.out)

    @property
    def stderr(self) -> str:
        """Return everything written to stderr so far."""
        with self._lock:
            return "".join(self.err)

    @property
    def events(self) -> list[dict[str, Any]]:
        """Return the JSON log records written to stderr so far, in order."""
        with self._lock:
            lines = list(self.err)
        out = []
        for line in lines:
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict):
                    out.append(record)
        return out

    def named(self, event: str) -> list[dict[str, Any]]:
        """Return the log records whose ``event`` is ``event``."""
        return [e for e in self.events if e.get("event") == event]

    def wait_event(self, event: str, count: int = 1, timeout: float = 20) -> list[dict[str, Any]]:
        """Wait until ``event`` was logged ``count`` times; return those records."""

        def enough() -> bool:
            if self.proc.poll() is not None and len(self.named(event)) < count:
                raise AssertionError(
                    f"tagger exited ({self.proc.returncode}) before logging {event!r}:\n"
                    + self.stderr[-4000:]
                )
            return len(self.named(event)) >= count

        wait_until(enough, timeout, f"{count} x {event!r} in the log")
        return self.named(event)

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the process."""
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 30) -> int:
        """Wait for the process to exit (bounded) and for its output; return the exit code."""
        code = self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=5)
        return code

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM the process if it still runs, then :meth:`wait`; kill it if that times out."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
