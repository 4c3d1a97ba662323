"""The systemd notification protocol (``sd_notify``) without a dependency.

systemd gives a ``Type=notify`` service the address of a datagram socket in
``NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract namespace). The
service sends newline-separated ``KEY=value`` assignments to it: READY=1 once
it serves, RELOADING=1 / STOPPING=1 around reloads and shutdown, STATUS=… for
``systemctl status``, WATCHDOG=1 as a heartbeat. Without NOTIFY_SOCKET (run
from a terminal) every method is a no-op.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Mapping

from tagger.logs.redact import REDACTOR


def _address(value: str) -> str | bytes | None:
    """Return the socket address for a NOTIFY_SOCKET value, None if unsupported."""
    if value.startswith("@"):
        return b"\0" + value[1:].encode()  # abstract namespace
    if value.startswith("/"):
        return value
    return None  # e.g. vsock: addresses, which an ordinary service never gets


class Notifier:
    """Sends notifications to the service manager; every send is best-effort."""

    def __init__(
        self,
        address: str | bytes | None,
        watchdog_usec: int | None = None,
    ) -> None:
        self.address = address
        self._watchdog_usec = watchdog_usec
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Notifier:
        """Build a notifier from NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID.

        The watchdog applies only when WATCHDOG_PID is absent or names this
        process (systemd sets it so children do not inherit the duty).
        """
        address = _address(env.get("NOTIFY_SOCKET", ""))
        usec: int | None = None
        raw, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
        if raw.isdigit() and int(raw) > 0 and (not pid or pid == str(os.getpid())):
            usec = int(raw)
        return cls(address, usec)

    @property
    def enabled(self) -> bool:
        """True when there is a service manager to talk to."""
        return self.address is not None

    def notify(self, *assignments: str) -> bool:
        """Send ``KEY=value`` assignments in one datagram; return whether it was sent.

        Failures are swallowed: losing a status line must never stop the daemon
        (a missed watchdog ping is what systemd is there to notice).
        """
        if self.address is None or not assignments:
            return False
        payload = "\n".join(assignments).encode()
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(
                        socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                    )
                self._sock.sendto(payload, self.address)
            except OSError:
                return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """Tell systemd start-up is complete (optionally with a status line)."""
        return self.notify("READY=1", *([_status(status)] if status else []))

    def reloading(self) -> bool:
        """Tell systemd a reload started; send :meth:`ready` when it is done.

        MONOTONIC_USEC lets systemd ≥ 253 match the reload to its request.
        """
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self) -> bool:
        """Tell systemd shutdown has begun."""
        return self.notify("STOPPING=1")

    def status(self, text: str) -> bool:
        """Set the one-line status shown by ``systemctl status``."""
        return self.notify(_status(text))

    def watchdog(self) -> bool:
        """Send a watchdog heartbeat (only meaningful when the watchdog is on)."""
        return self.notify("WATCHDOG=1")

    def watchdog_interval(self) -> float | None:
        """Return the watchdog timeout in seconds, or None when it is off.

        Ping at least twice per interval (systemd's own advice), e.g. every
        ``interval / 2`` seconds.
        """
        return None if self._watchdog_usec is None else self._watchdog_usec / 1_000_000

    def close(self) -> None:
        """Close the socket (sending again reopens it)."""
        with self._lock:
            if self._sock is not None:
                with contextlib.suppress(OSError):
                    self._sock.close()
                self._sock = None


def _status(text: str) -> str:
    # A newline would start a new assignment; secrets must not reach systemctl.
    return "STATUS=" + REDACTOR.text(" ".join(text.splitlines()))
