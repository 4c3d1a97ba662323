"""The quota a node shares with the other nodes of its PostgreSQL database, for a session.

With ``state: {backend: postgresql}`` every node whose accounts share
credentials takes its calls' turns from one bucket per endpoint in the
database (:class:`~tagger.cluster.quota.SharedQuota`); with SQLite a process
is alone and nothing changes. The quota is in force for the session (and
the runtimes a reload opens in it, through
:data:`~tagger.service.runtime.CROSS_QUOTA`). A dry run paces alone: it
writes nothing to the database (its ledger is a copy), not even the quota's
tables, which a database that holds no ledger yet must not receive.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator

from tagger.cluster.quota import SharedQuota
from tagger.config import Config
from tagger.service.clusterseat import node_name
from tagger.service.runtime import CROSS_QUOTA

__all__ = ["shared_quota"]


@contextlib.asynccontextmanager
async def shared_quota(config: Config, *, dry_run: bool) -> AsyncIterator[SharedQuota | None]:
    """Share the quota through the PostgreSQL database for the body; yields it.

    Yields None with SQLite and for a dry run (see the module docstring).
    Never waits for the database: a node that cannot reach it paces alone,
    warned (see :mod:`tagger.cluster.quota`). What is still being reported
    is written when the body ends.
    """
    backend = config.state
    if dry_run or backend.backend != "postgresql" or backend.dsn is None:
        yield None
        return
    quota = SharedQuota.connect(backend.dsn, f"{node_name(config)}#{secrets.token_hex(4)}")
    token = CROSS_QUOTA.set(quota)
    try:
        yield quota
    finally:
        CROSS_QUOTA.reset(token)
        await quota.aclose()
