"""The cluster's tables, part of the PostgreSQL ledger's layout (see :mod:`tagger.cluster.schema`).

Kept in the state layer so the ledger's schema (:mod:`tagger.state.pgschema`)
creates them with every other table; the cluster's modules use them.
"""

from __future__ import annotations

__all__ = ["QUOTA_STATEMENTS", "STATEMENTS"]

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

# The shared quota's buckets and who shares them (tagger.cluster.buckets).
QUOTA_STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS quota_buckets (
        credential TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        interval_us DOUBLE PRECISION NOT NULL DEFAULT 0,
        burst INTEGER NOT NULL DEFAULT 1,
        tat DOUBLE PRECISION NOT NULL,
        not_before BIGINT NOT NULL DEFAULT 0,
        learned_at BIGINT NOT NULL DEFAULT 0,
        learned_by TEXT NOT NULL DEFAULT '',
        exact BOOLEAN NOT NULL DEFAULT FALSE,
        granted BIGINT NOT NULL DEFAULT 0,
        throttled BIGINT NOT NULL DEFAULT 0,
        send_at DOUBLE PRECISION NOT NULL DEFAULT 0,
        taken_at BIGINT NOT NULL DEFAULT 0,
        granted_last BOOLEAN NOT NULL DEFAULT FALSE,
        PRIMARY KEY (credential, endpoint),
        CHECK (interval_us >= 0 AND burst >= 1)
    )""",
    """CREATE TABLE IF NOT EXISTS quota_nodes (
        credential TEXT NOT NULL,
        owner TEXT NOT NULL,
        seen_at BIGINT NOT NULL,
        PRIMARY KEY (credential, owner)
    )""",
)
