"""Queueing an account's calls against a quota, for the tests and benchmarks of shared quotas."""

from __future__ import annotations

import asyncio
import time

from tagger.mimecast.client import MimecastClient
from tagger.mimecast.errors import QuotaDeferred
from tagger.mimecast.pacing import cycle_bound


async def queue_info_reads(
    client: MimecastClient, ids: list[str], bound_s: float
) -> tuple[int, int]:
    """Read every message's info at once within a bound of ``bound_s`` seconds.

    Given the client, the message ids and the bound; returns (accepted,
    deferred): the reads that got a turn, and those the quota deferred.
    """

    async def one(message_id: str) -> bool:
        try:
            await client.get_message_info(message_id)
        except QuotaDeferred:
            return False
        return True

    with cycle_bound(time.monotonic() + bound_s):
        done = await asyncio.gather(*(one(i) for i in ids))
    return sum(done), len(done) - sum(done)
