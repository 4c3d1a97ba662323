"""Reading the cluster for ``tagger status``: one short read-only pass over the ledger.

Given the config (a PostgreSQL ledger), returns the cluster's view
(:class:`tagger.cluster.view.ClusterView`) or why it could not be read,
never with the DSN.
"""

from __future__ import annotations

from tagger.cluster.view import ClusterView, read_view
from tagger.config import Config

__all__ = ["read_cluster"]

CONNECT_TIMEOUT_S = 5


def read_cluster(config: Config) -> tuple[ClusterView | None, str | None]:
    """Return (the cluster's view, None), or (None, why it could not be read)."""
    backend = config.state
    if backend.backend != "postgresql" or backend.dsn is None:
        return None, None
    import psycopg

    try:
        with psycopg.connect(backend.dsn, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            conn.read_only = True
            lease = config.cluster.lease.total_seconds()
            grace = lease + 2 * config.cluster.renew.total_seconds()
            return read_view(conn, lease, grace), None
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()
        why = first[0] if first else type(exc).__name__
        return None, f"cannot read the cluster at {backend.where}: {why}"
