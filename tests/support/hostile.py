"""A hostile HTTP server on 127.0.0.1: answers as a test scripts it, or passes requests on.

:class:`HostileServer` is a real threaded HTTP server. For each request it
calls the test's ``script`` with what it received; the script returns an
:class:`Answer` (status, headers, body, optionally dripped a few bytes at a
time) or None to forward the request to ``upstream`` (usually the simulator),
so a real ``tagger`` process can run against the simulator while one endpoint
misbehaves. Every request is recorded, Authorization header included, so a
test can check that no credential it carried shows up anywhere.
"""

from __future__ import annotations

import gzip
import http.client
import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


@dataclass(frozen=True)
class Answer:
    """What to send back. ``drip_s`` > 0 sends the body ``drip_bytes`` at a time with pauses."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drip_s: float = 0.0
    drip_bytes: int = 1

    @classmethod
    def of_json(cls, value: Any, status: int = 200, **headers: str) -> Answer:
        return cls(
            status, json.dumps(value).encode(), {"Content-Type": "application/json", **headers}
        )


Script = Callable[[Seen], Answer | None]


def envelope(data: list[Any], **meta: Any) -> dict[str, Any]:
    """Return a success envelope holding ``data`` (``meta`` adds e.g. ``pagination``)."""
    return {"meta": {"status": 200, **meta}, "data": data, "fail": []}


def deep_json(depth: int = 100_000) -> bytes:
    """Return a JSON array nested ``depth`` deep: valid JSON no recursive decoder can follow."""
    return b"[" * depth + b"]" * depth


def gzip_bomb(decoded_bytes: int) -> bytes:
    """Return a small gzip stream that decodes to ``decoded_bytes`` zero bytes."""
    return gzip.compress(b"\0" * decoded_bytes, compresslevel=9)


TOKEN_ANSWER = Answer.of_json({"access_token": "hostile-token-0042-abcdef", "expires_in": 1800})


class HostileServer:
    """A threaded HTTP server on 127.0.0.1 (use as a context manager); see the module docstring."""

    def __init__(
        self, script: Script, upstream: str | None = None, tls: ssl.SSLContext | None = None
    ) -> None:
        self.script = script
        self.upstream = upstream
        self.seen: list[Seen] = []
        self.closing = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def requests(self, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path == path]

    def authorizations(self) -> set[str]:
        """Return every Authorization value received, and the credential inside each."""
        out: set[str] = set()
        with self._lock:
            for seen in self.seen:
                value = seen.headers.get("authorization", "")
                if value:
                    out.add(value)
                    out.add(value.split(" ", 1)[-1])
        return out

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    def _forward(self, seen: Seen) -> Answer:
        assert self.upstream is not None, "no upstream to forward to"
        target = urlsplit(self.upstream)
        conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=30)
        try:
            headers = {k: v for k, v in seen.headers.items() if k not in ("host", "connection")}
            conn.request("POST", seen.path, body=seen.body, headers=headers)
            response = conn.getresponse()
            body = response.read()
            keep = ("content-type", "x-mc-req-id")
            kept = {k: v for k, v in response.getheaders() if k.lower() in keep}
            kept.update(
                {k: v for k, v in response.getheaders() if k.lower().startswith("x-ratelimit")}
            )
            return Answer(response.status, body, kept)
        finally:
            conn.close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                seen = Seen(urlsplit(self.path).path, headers, body)
                server._record(seen)
                answer = server.script(seen)
                if answer is None:
                    answer = server._forward(seen)
                self._send(answer)

            def _send(self, answer: Answer) -> None:
                self.send_response(answer.status)
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                try:
                    if answer.drip_s <= 0:
                        self.wfile.write(answer.body)
                        return
                    for start in range(0, len(answer.body), answer.drip_bytes):
                        if server.closing.is_set():
                            return
                        self.wfile.write(answer.body[start : start + answer.drip_bytes])
                        self.wfile.flush()
                        time.sleep(answer.drip_s)
                except OSError:  # the client gave up: that is the point of dripping
                    self.close_connection = True

        return Handler
