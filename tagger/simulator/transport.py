"""HTTP/1.1 keep-alive transport of the simulator (stdlib ``http.server``).

The server keeps track of every open connection and its thread, so that
:meth:`SimHTTPServer.close_all` can end idle keep-alive connections at once
and stopping never leaves threads behind. What a request means is decided by
the ``dispatch`` callable the server is given.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class SimHandler(BaseHTTPRequestHandler):
    """One connection; every request is handed to ``server.dispatch``."""

    protocol_version = "HTTP/1.1"
    server_version = "tagger-mimecast-simulator"
    sys_version = ""
    # Headers and body go out in one write anyway; no Nagle delays on small answers.
    disable_nagle_algorithm = True
    server: SimHTTPServer

    def setup(self) -> None:
        """Apply the idle keep-alive timeout, then make the streams."""
        super().setup()
        self.connection.settimeout(self.server.keepalive_timeout_s)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the simulator counts requests in its statistics instead."""

    def do_GET(self) -> None:
        """Dispatch a GET request."""
        self.server.dispatch(self, "GET")

    def do_POST(self) -> None:
        """Dispatch a POST request."""
        self.server.dispatch(self, "POST")

    def do_PUT(self) -> None:
        """Dispatch a PUT request (always refused)."""
        self.server.dispatch(self, "PUT")

    def do_DELETE(self) -> None:
        """Dispatch a DELETE request (always refused)."""
        self.server.dispatch(self, "DELETE")

    def header(self, name: str) -> str | None:
        """Return a request header (case-insensitive), or None."""
        value: str | None = self.headers.get(name)
        return value

    def read_body(self) -> bytes | None:
        """Read the request body; returns None when its length is unknown (chunked)."""
        if "chunked" in (self.header("Transfer-Encoding") or "").lower():
            self.close_connection = True
            return None
        try:
            length = int(self.header("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            return None
        return self.rfile.read(length) if length > 0 else b""

    def respond(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Send a whole response (status line, headers and body) in one write."""
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        lines = [
            f"HTTP/1.1 {status} {reason}",
            f"Server: {self.server_version}",
            f"Date: {formatdate(self.server.clock(), usegmt=True)}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}",
        ]
        lines.extend(f"{k}: {v}" for k, v in headers)
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + body)

    def drop(self) -> None:
        """Close the connection without sending anything."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


Dispatch = Callable[[SimHandler, str], None]


class SimHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that can close its open connections on demand."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        dispatch: Dispatch,
        keepalive_timeout_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # The Date header follows the simulator's clock, as a real server's
        # follows its own: a client checking its clock against it agrees with
        # a simulator running at a fixed test time.
        self.clock = clock
        self.dispatch = dispatch
        self.keepalive_timeout_s = keepalive_timeout_s
        self.stopping = threading.Event()
        self._conn_lock = threading.Lock()
        self._conns: dict[Any, threading.Thread] = {}
        super().__init__(address, SimHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve a new connection in its own daemon thread, remembering both."""
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="tagger-sim-conn",
            daemon=True,
        )
        with self._conn_lock:
            self._conns[request] = thread
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        """Forget a finished connection, then close it."""
        with self._conn_lock:
            self._conns.pop(request, None)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore connections the client (or :meth:`close_all`) cut; report anything else."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)

    def close_all(self, timeout_s: float) -> None:
        """End every open connection and wait (up to ``timeout_s`` overall) for its thread."""
        self.stopping.set()
        with self._conn_lock:
            open_now = list(self._conns.items())
        for sock, _ in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout_s
        for _, thread in open_now:
            thread.join(max(0.0, deadline - time.monotonic()))
