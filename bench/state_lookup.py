"""Benchmark: batch lookups of 10,000 ids against 1,000,000 stored rows.

Usage: .venv/bin/python -m bench.state_lookup [--rows N] [--lookup N] [--dir DIR]

Fills a fresh state file with N processed messages and N applied pairs (one
transaction each, as a bulk import would), then times ``processed_ids`` and
``applied_pairs`` for a batch that is half hits, half misses.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tagger.state import AppliedRow, StateStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--lookup", type=int, default=10_000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    base = datetime(2024, 1, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        store = StateStore.open(Path(tmp) / "state.db")
        ids = [f"<msg-{i:08d}@example.com>" for i in range(args.rows)]
        t0 = time.perf_counter()
        store.mark_processed("acct", "rules-v1", ids, base)
        rows = (
            AppliedRow(m, "tag-1", "rule-1", "h1", "live", base + timedelta(seconds=i))
            for i, m in enumerate(ids)
        )
        store.record_applied_many("acct", rows)
        fill = time.perf_counter() - t0
        rng = random.Random(7)
        hits = rng.sample(ids, args.lookup // 2)
        misses = [f"<absent-{i}@example.com>" for i in range(args.lookup - len(hits))]
        batch = hits + misses
        rng.shuffle(batch)
        for name, lookup in (
            ("processed_ids", lambda: store.processed_ids("acct", "rules-v1", batch)),
            ("applied_pairs", lambda: store.applied_pairs("acct", batch)),
        ):
            timings = []
            for _ in range(5):
                t = time.perf_counter()
                found = lookup()
                timings.append(time.perf_counter() - t)
            assert len(found) == len(hits)
            print(
                f"{name}: {len(batch)} ids vs {args.rows} rows: "
                f"median {sorted(timings)[2] * 1000:.1f} ms, max {max(timings) * 1000:.1f} ms"
            )
        size = (Path(tmp) / "state.db").stat().st_size
        print(f"fill {2 * args.rows} rows: {fill:.1f} s; file {size / 1e6:.0f} MB (+WAL)")
        t = time.perf_counter()
        counts = store.prune(base + timedelta(seconds=args.rows // 2))
        print(f"prune: {counts} in {time.perf_counter() - t:.1f} s")
        print(f"integrity_check: {store.integrity_check()}")
        store.close()


if __name__ == "__main__":
    main()
