"""The database's clock, the only clock leases are judged by.

Nodes' clocks may disagree; PostgreSQL's is one for all. Times are integer
microseconds since the Unix epoch, like every time in the ledger.
"""

from __future__ import annotations

__all__ = ["NOW_US", "seconds_us"]

# clock_timestamp(), not now(): now() is the transaction's start, which a
# transaction waiting on a lock would see in the past.
NOW_US = "(extract(epoch from clock_timestamp()) * 1000000)::bigint"


def seconds_us(seconds: float) -> int:
    """Return ``seconds`` in whole microseconds."""
    return round(seconds * 1_000_000)
