"""A TCP proxy on 127.0.0.1 that cuts a connection on demand: pass, blackhole or reset.

:class:`FaultProxy` listens on a free port of 127.0.0.1 and relays every
connection to a loopback target (a PostgreSQL server, say), one thread per
connection, at most ``max_connections`` at once (more are reset at once).
Its mode is switched at run time with :meth:`FaultProxy.set_mode`:

- ``pass``: bytes are relayed both ways.
- ``blackhole``: every connection, open or new, is still accepted and read
  from, but nothing is forwarded and nothing is answered: a client waits
  until its own deadline. The proxy's kernel acknowledges what the client
  sends, so TCP keepalives and ``tcp_user_timeout`` never notice: only a
  deadline of the client's own does (a stricter test than a real partition,
  where unacknowledged data would end the connection in time). A connection
  once blackholed stays so (its byte stream has lost data and can never make
  sense again); switching back to ``pass`` serves new connections.
- ``reset``: every open connection is closed with a TCP RST (``SO_LINGER``
  0), and so is every new one as soon as it is accepted.

:meth:`FaultProxy.set_mode` returns once every open connection has taken
the new mode (bounded): after ``set_mode("blackhole")`` returns, no byte
read afterwards is forwarded; after ``set_mode("reset")``, every connection
open before it has been reset. :meth:`FaultProxy.close` stops everything.
The chaos harness puts one node's database connection behind one.
"""

from __future__ import annotations

import contextlib
import ipaddress
import selectors
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal, get_args

__all__ = ["MODES", "FaultProxy", "Mode"]

Mode = Literal["pass", "blackhole", "reset"]
MODES: tuple[str, ...] = get_args(Mode)

# How often a connection's thread looks at the mode when no byte moves.
_TICK_S = 0.05
# Seconds a send to one side may block before the connection is dropped.
_SEND_TIMEOUT_S = 5.0
_CHUNK = 65536


def _loopback(host: str) -> bool:
    """Return whether ``host`` names the loopback interface (127.0.0.0/8, ::1 or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _reset(sock: socket.socket) -> None:
    """Close ``sock`` with a TCP RST (``SO_LINGER`` on, 0 s) rather than a FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


@dataclass(eq=False)
class _Link:
    """One relayed connection: the client's socket, the target's (None when never connected)."""

    client: socket.socket
    upstream: socket.socket | None
    blackholed: bool
    applied: int
    thread: threading.Thread | None = None
    done: threading.Event = field(default_factory=threading.Event)


class FaultProxy:
    """A running proxy in front of ``target`` (see the module docstring); a context manager.

    Given the target's loopback host and port; raises ValueError for a
    target that is not on loopback, an unknown mode or a bound below 1.
    """

    def __init__(
        self, target_host: str, target_port: int, *, mode: Mode = "pass", max_connections: int = 32
    ) -> None:
        if not _loopback(target_host):
            raise ValueError(
                f"fault proxy target {target_host!r} is not a loopback address:"
                " give 127.0.0.1, ::1 or localhost"
            )
        if not 0 < target_port < 65536:
            raise ValueError(f"fault proxy target port {target_port} is not in 1..65535")
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {max_connections}")
        self._check_mode(mode)
        self.target = (target_host, target_port)
        self.max_connections = max_connections
        self._mode: Mode = mode
        self._generation = 0
        self._lock = threading.Condition()
        self._links: set[_Link] = set()
        self._stopping = threading.Event()
        self.accepted = 0
        self.refused = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(_TICK_S)
        self.port: int = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(
            target=self._accept_loop, name=f"faultproxy-{self.port}", daemon=True
        )
        self._acceptor.start()

    # -- public ---------------------------------------------------------------

    @property
    def host(self) -> str:
        """The address clients connect to: always 127.0.0.1."""
        return "127.0.0.1"

    @property
    def mode(self) -> Mode:
        """The current mode."""
        with self._lock:
            return self._mode

    @property
    def open_connections(self) -> int:
        """How many connections are open through the proxy now."""
        with self._lock:
            return len(self._links)

    def set_mode(self, mode: Mode, *, timeout: float = 5.0) -> None:
        """Switch to ``mode``; return once every open connection has taken it.

        Raises ValueError for an unknown mode, TimeoutError when a connection
        has not taken it within ``timeout`` seconds (it never should: each
        looks every few milliseconds).
        """
        self._check_mode(mode)
        deadline = time.monotonic() + timeout
        with self._lock:
            self._mode = mode
            self._generation += 1
            generation = self._generation
            while any(link.applied < generation for link in self._links):
                left = deadline - time.monotonic()
                if left <= 0 or self._stopping.is_set():
                    raise TimeoutError(f"fault proxy: connections did not take mode {mode!r}")
                self._lock.wait(min(left, _TICK_S))

    def wait_connections(self, count: int, timeout: float = 10.0) -> None:
        """Wait until at least ``count`` connections were accepted in all; TimeoutError if not."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self.accepted < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"fault proxy: {self.accepted} connections accepted, expected {count}"
                    )
                self._lock.wait(min(left, _TICK_S))

    def close(self, timeout: float = 5.0) -> None:
        """Stop accepting, close every connection and join the threads (each within ``timeout``)."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self._acceptor.join(timeout)
        with self._lock:
            links = list(self._links)
        for link in links:
            if link.thread is not None:
                link.thread.join(timeout)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- inside ---------------------------------------------------------------

    @staticmethod
    def _check_mode(mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown fault proxy mode {mode!r}: use one of {', '.join(MODES)}")

    def _accept_loop(self) -> None:
        """Accept connections until closed; each gets a thread or, past the bound, a reset."""
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                mode, generation, full = (
                    self._mode,
                    self._generation,
                    len(self._links) >= self.max_connections,
                )
                self.accepted += 1
                self._lock.notify_all()
            if mode == "reset" or full:
                if full:
                    self.refused += 1
                _reset(client)
                continue
            upstream = self._connect() if mode == "pass" else None
            if mode == "pass" and upstream is None:
                _reset(client)
                continue
            link = _Link(client, upstream, blackholed=mode == "blackhole", applied=generation)
            link.thread = threading.Thread(
                target=self._relay, args=(link,), name=f"faultproxy-{self.port}-link", daemon=True
            )
            with self._lock:
                self._links.add(link)
            link.thread.start()

    def _connect(self) -> socket.socket | None:
        """Return a socket connected to the target, or None when it cannot be reached."""
        try:
            return socket.create_connection(self.target, timeout=_SEND_TIMEOUT_S)
        except OSError:
            return None

    def _take_mode(self, link: _Link) -> bool:
        """Apply a mode switch the link has not seen; return False when the link must end."""
        with self._lock:
            if link.applied == self._generation:
                return not self._stopping.is_set()
            mode = self._mode
        keep = True
        if mode == "blackhole":
            link.blackholed = True
        elif mode == "reset":
            _reset(link.client)
            if link.upstream is not None:
                _reset(link.upstream)
            link.done.set()
            keep = False
        with self._lock:
            link.applied = self._generation
            if not keep:
                self._links.discard(link)
            self._lock.notify_all()
        return keep and not self._stopping.is_set()

    def _relay(self, link: _Link) -> None:
        """Move bytes between the two sides of ``link`` as the mode says, until either side ends."""
        sockets = [link.client] + ([link.upstream] if link.upstream is not None else [])
        for sock in sockets:
            sock.settimeout(_SEND_TIMEOUT_S)
        selector = selectors.DefaultSelector()
        try:
            for sock in sockets:
                selector.register(sock, selectors.EVENT_READ)
            while self._take_mode(link):
                for key, _ in selector.select(_TICK_S):
                    source = key.fileobj
                    assert isinstance(source, socket.socket)
                    if not self._pump(link, source):
                        return
        except OSError:
            return
        finally:
            selector.close()
            if not link.done.is_set():
                for sock in sockets:
                    with contextlib.suppress(OSError):
                        sock.close()
            with self._lock:
                self._links.discard(link)
                link.applied = self._generation
                self._lock.notify_all()

    def _pump(self, link: _Link, source: socket.socket) -> bool:
        """Read once from ``source`` and forward it unless blackholed; False at end of stream."""
        data = source.recv(_CHUNK)
        if not data:
            return False
        # Decided after the read: a switch to blackhole that returned before
        # this read drops these bytes.
        with self._lock:
            blackholed = link.blackholed or (
                link.applied < self._generation and self._mode != "pass"
            )
        if blackholed or link.upstream is None:
            return True
        other = link.upstream if source is link.client else link.client
        other.sendall(data)
        return True
