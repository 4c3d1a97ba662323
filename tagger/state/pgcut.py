"""Cutting off a PostgreSQL call that gets no answer, so nothing waits on it for ever.

A network cut that drops packets, or a connection that accepts and answers
nothing, leaves a call blocked in ``recv`` with no end: TCP keepalives only
help when the peer's kernel stops acknowledging. :func:`bounded` runs the
body with a timer that, when the call takes longer than its deadline, shuts
the connection's socket (:func:`shut_socket`): the blocked call returns
with an error at once, the connection is discarded, and the next call gets a
fresh one. The lease's self-fence does not depend on this (it is the
monotonic clock's); this keeps a node from hanging after a cut.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["KEEPALIVES", "bounded", "shut_socket"]

# libpq connection options that notice a dead peer on a real network within
# about a minute (idle 10 s, then 3 probes 5 s apart; unacknowledged data 30 s).
KEEPALIVES: dict[str, int] = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}


def shut_socket(conn: Any) -> None:
    """Shut the socket of the psycopg connection ``conn`` (a blocked call on it returns)."""
    with contextlib.suppress(Exception):
        sock = socket.socket(fileno=os.dup(conn.pgconn.socket))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.close()


@contextlib.contextmanager
def bounded(conn: Any, seconds: float) -> Iterator[None]:
    """Run the body; if it is still running after ``seconds``, shut ``conn``'s socket."""
    timer = threading.Timer(seconds, shut_socket, [conn])
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
