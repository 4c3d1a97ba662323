"""The cluster's tables, part of the PostgreSQL ledger's layout (see :mod:`tagger.cluster.schema`).

Kept in the state layer so the ledger's schema (:mod:`tagger.state.pgschema`)
creates them with every other table; the cluster's modules use them.
"""

from __future__ import annotations

__all__ = ["STATEMENTS"]

STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS cluster_nodes (
        owner TEXT PRIMARY KEY,
        node TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at BIGINT NOT NULL,
        seen_at BIGINT NOT NULL,
        left_at BIGINT
    )""",
    """CREATE TABLE IF NOT EXISTS leases (
        account TEXT PRIMARY KEY,
        owner TEXT,
        epoch BIGINT NOT NULL DEFAULT 0,
        expires_at BIGINT NOT NULL DEFAULT 0,
        acquired_at BIGINT
    )""",
    """CREATE TABLE IF NOT EXISTS claims (
        account TEXT NOT NULL,
        message_id TEXT NOT NULL,
        tag_id TEXT NOT NULL,
        rule_id TEXT NOT NULL,
        owner TEXT NOT NULL,
        epoch BIGINT NOT NULL,
        claimed_at BIGINT NOT NULL,
        PRIMARY KEY (account, message_id, tag_id)
    )""",
    "CREATE INDEX IF NOT EXISTS claims_by_owner ON claims (account, owner, epoch)",
)
