"""Joining the cluster when the ledger is PostgreSQL: this node's seat for a session.

:func:`join_cluster` names the node (``TAGGER_NODE``, else ``cluster.node``,
else the host name), connects to PostgreSQL, runs the node's first round
(creating the cluster's tables and taking this node's first leases) and keeps
it renewing in a thread until the session ends, when every lease is handed
back. The DSN is a secret: errors say where the server is, never the DSN.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Sequence
from typing import Any

import structlog

from tagger.cluster.node import ClusterNode
from tagger.cluster.seat import Seat
from tagger.config import Config
from tagger.logs.redact import REDACTOR
from tagger.state.errors import StateError
from tagger.state.pgcut import KEEPALIVES

__all__ = ["join_cluster", "node_name"]

log = structlog.get_logger("tagger.cluster")

# Seconds to wait for PostgreSQL to accept a connection.
CONNECT_TIMEOUT_S = 5


def node_name(config: Config, env: dict[str, str] | None = None) -> str:
    """Return this node's name: ``TAGGER_NODE``, else ``cluster.node``, else the host name."""
    environ = os.environ if env is None else env
    return environ.get("TAGGER_NODE") or config.cluster.node or socket.gethostname()


@contextlib.asynccontextmanager
async def join_cluster(config: Config, dsn: str, accounts: Sequence[str]) -> AsyncIterator[Seat]:
    """Run this node in the cluster for the body; yields its seat (see module docstring).

    Raises StateError (saying where, never the DSN) when PostgreSQL cannot be
    reached for the first round.
    """
    import psycopg
    from psycopg_pool import ConnectionPool

    name = node_name(config)
    options: dict[str, Any] = {
        "autocommit": True,
        "connect_timeout": CONNECT_TIMEOUT_S,
        "application_name": f"tagger {name}"[:63],
        **KEEPALIVES,
    }

    def connect() -> Any:
        return psycopg.connect(dsn, **options)

    node = ClusterNode(
        connect,
        name,
        accounts,
        lease_s=config.cluster.lease.total_seconds(),
        renew_s=config.cluster.renew.total_seconds(),
    )
    try:
        await asyncio.to_thread(node.start)
    except Exception as exc:
        node.stop()
        raise StateError(f"cannot join the cluster: {_redacted(exc, dsn)}") from None
    pool = ConnectionPool(
        dsn, kwargs=options, min_size=1, max_size=4, open=True, name="tagger-claims"
    )
    seat = Seat(node, pool)
    log.info(
        "cluster_joined",
        node=name,
        owner=node.owner,
        holds=sorted(node.tenure.held()),
        lease_s=node.lease_s,
        renew_s=node.renew_s,
    )
    try:
        yield seat
    finally:
        await asyncio.to_thread(node.stop)
        seat.close()
        log.info("cluster_left", node=name, owner=node.owner)


def _redacted(exc: Exception, dsn: str) -> str:
    """Return ``exc`` in one line with the DSN (and registered secrets) masked."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return REDACTOR.text(text.replace(dsn, "<dsn>"))
