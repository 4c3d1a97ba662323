"""A webhook receiver on 127.0.0.1 for the tests: records each POST, answers as scripted."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """An HTTP server on 127.0.0.1 (any free port) that records the JSON bodies it gets.

    ``answers`` are the statuses of the first requests in turn (with their
    extra headers); every later request gets 200. Use as a context manager.
    """

    def __init__(self, answers: Iterable[tuple[int, dict[str, str]]] = ()) -> None:
        self.answers = list(answers)
        self.received: list[tuple[str, Any]] = []
        self.statuses: list[int] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                data = json.loads(self.rfile.read(length) or b"null")
                with owner._lock:
                    status, headers = owner.answers.pop(0) if owner.answers else (200, {})
                    owner.received.append((self.path, data))
                    owner.statuses.append(status)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        """Return the URL of ``path`` on this receiver."""
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def bodies(self, path: str | None = None) -> list[Any]:
        """Return the JSON bodies received (on ``path`` only, when given), in order."""
        with self._lock:
            return [b for p, b in self.received if path is None or p == path]

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)
