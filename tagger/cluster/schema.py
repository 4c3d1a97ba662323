"""The cluster's tables in the PostgreSQL ledger: nodes, leases and claims.

Part of the PostgreSQL ledger's layout (:mod:`tagger.state.clustertables`,
created with the state's tables), and created again if missing by every
node at start (``CREATE TABLE IF NOT EXISTS``: any number of times). Times are microseconds from
the database's clock (:mod:`tagger.cluster.dbtime`).

- ``cluster_nodes``: one row per running node (``owner`` is the node's name
  and a random incarnation, so a restarted node or two nodes given one name
  never share leases), with its last heartbeat;
- ``leases``: one row per account: who holds it, at which epoch (the fencing
  token: it grows by one at every takeover), until when;
- ``claims``: one row per (account, message, tag) an owner is about to
  apply, written (fenced) before the request is sent. Its outcome is the
  ``applied`` row of the pair; a definite failure deletes it.
"""

from __future__ import annotations

from typing import Any

from tagger.state.clustertables import STATEMENTS

__all__ = ["STATEMENTS", "ensure_schema"]

# One node at a time creates the tables (concurrent CREATE ... IF NOT EXISTS
# can still collide on PostgreSQL's catalog); the lock ends with the transaction.
_SCHEMA_LOCK = 0x7461_6767  # "tagg"


def ensure_schema(conn: Any) -> None:
    """Create the cluster's tables on the psycopg connection ``conn`` if missing (commits)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [_SCHEMA_LOCK])
        for statement in STATEMENTS:
            conn.execute(statement)
