"""Memory and speed of a cycle as the state grows: 100,000 then 1,000,000 messages on record.

    python -m bench.state_growth [--sizes 100000,1000000] [--messages 10000]

For each size, a fresh state file is seeded directly through the store's
bulk writes (pushing that many messages through HTTP would take hours) with
that many processed messages of the current rule set and, for 40 % of them,
an applied tag. Then a fresh child process runs one real cycle (the shipped
rules, account concurrency 16) over ``--messages`` new messages served by a
simulator in another child process without latency. The measuring child
reports its peak resident memory (``VmHWM``), the cycle time (connecting
and the simulator's mailbox generation excluded) and what the cycle did.

Prints peak RSS, state-file size and cycle time at every size and compares
the largest with the smallest. Exits 1 when the cycles did not do the same
work or did not apply exactly the expected tags (correctness), and, unless
``--no-targets`` is given, when the peak RSS differs by 50 MB or more, the
cycle at the largest size takes 1.5 times as long or longer, or the peak RSS
of a cycle exceeds ``--max-rss`` (80 MB; targets: a person or ``make bench``
judges those, on a quiet machine). For the memory of one cycle alone:

    python -m bench.state_growth --sizes 0 --messages 10000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.benchlib import expected_pairs, quiet_logging, write_config
from bench.simproc import child_simulator, sim_config
from tagger.engine.options import cycle_options
from tagger.engine.run import run_cycle
from tagger.service.runtime import load_ruleset, open_runtime, open_state
from tagger.simulator import Simulator, SimulatorConfig
from tagger.simulator.synth import make_id
from tagger.state import AppliedRow, StateStore
from testkit import ROOT

ACCOUNT = "bench"  # the account name benchlib.write_config uses
BATCH = 100_000  # rows per seeding transaction
APPLIED_SHARE = 0.4
MAX_RSS_DIFF_MB = 50.0
MAX_TIME_RATIO = 1.5
MAX_RSS_MB = 80.0


def seed_rows(size: int, tags: list[str], rules: list[str]) -> Iterator[tuple[str, str, str]]:
    """Yield ``size`` (message id, tag id or "", rule id) triples, like past cycles leave."""
    rng = random.Random(size)
    for index in range(size):
        applied = rng.random() < APPLIED_SHARE
        yield make_id(0, "seeded", index), rng.choice(tags) if applied else "", rng.choice(rules)


def seed_state(path: Path, size: int, config_dir: Path, url_for_tags: str) -> float:
    """Fill a new state file at ``path`` with ``size`` processed messages; returns seconds.

    Uses the ruleset and tags of the shipped rules so that the seeded rows
    share the primary-key prefix (account, rule-set hash) the cycle looks up.
    """
    config = write_config(config_dir, url_for_tags, concurrency=16, state=path)
    ruleset = load_ruleset(config)
    tags = [str(t["id"]) for t in Simulator(SimulatorConfig(messages=0)).smart_tags()]
    rules = [r.id for r in ruleset.rules]
    now = datetime.now(UTC)
    began = time.perf_counter()
    with StateStore.open(path) as store:
        batch: list[tuple[str, str, str]] = []
        for offset, row in enumerate(seed_rows(size, tags, rules)):
            batch.append(row)
            if len(batch) == BATCH or offset == size - 1:
                # Spread over the last 30 days, oldest first, as past cycles left them.
                at = now - timedelta(days=30) * (1 - offset / max(1, size))
                ids = [m for m, _, _ in batch]
                store.mark_processed(ACCOUNT, ruleset.content_hash, ids, at)
                store.record_applied_many(
                    ACCOUNT,
                    (AppliedRow(m, t, r, "seeded", "enforce", at) for m, t, r in batch if t),
                )
                batch = []
    return time.perf_counter() - began


def peak_rss_mb() -> float:
    """Return this process's peak resident set size in MB (VmHWM; ru_maxrss elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measured_cycle(config_dir: Path, state: Path, url: str) -> dict[str, Any]:
    """Run one live cycle against ``url`` on ``state``; returns the figures of the run."""
    config = write_config(config_dir, url, concurrency=16, state=state)
    runtime = await open_runtime(config)
    try:
        options = cycle_options(config)
        with open_state(config, dry_run=False) as store:
            rss_before = peak_rss_mb()
            began = time.perf_counter()
            reports = await run_cycle(runtime, store, options, lambda: datetime.now(UTC))
            seconds = time.perf_counter() - began
    finally:
        await runtime.close()
    report = reports[0]
    return {
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": rss_before,
        "found": report.messages_found,
        "already_processed": report.already_processed,
        "info_calls": report.info_calls,
        "applied": report.applied,
        "failed": report.failed,
        "errors": report.errors,
    }


def measure_in_child(state: Path, url: str, config_dir: Path) -> dict[str, Any]:
    """Run :func:`measured_cycle` in a fresh Python process; returns its figures."""
    cmd = [sys.executable, "-m", "bench.state_growth", "--measure", str(state)]
    cmd += ["--url", url, "--config-dir", str(config_dir)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"measuring child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def file_mb(path: Path) -> tuple[float, float]:
    """Return the sizes in MB of the state file and of its write-ahead log."""
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size / 1e6, (wal.stat().st_size / 1e6 if wal.exists() else 0.0)


def run_size(size: int, messages: int, start: float, tmp: Path) -> dict[str, Any]:
    """Seed a state of ``size`` messages and measure one cycle over new ones; returns figures."""
    where = tmp / f"size-{size}"
    where.mkdir()
    state = where / "state.db"
    seeded_s = seed_state(state, size, where, "http://127.0.0.1:1")
    before = file_mb(state)
    with child_simulator(messages=messages, start=start) as sim:
        figures = measure_in_child(state, sim.url, where)
        applied = sim.applied()
    ruleset = load_ruleset(write_config(where, "http://127.0.0.1:1", concurrency=16, state=state))
    expected = expected_pairs(Simulator(sim_config(messages=messages, start=start)), ruleset)
    figures.update(tags_applied=len(applied), tags_expected=len(expected))
    figures.update(tags_as_expected=applied == expected)
    figures.update(
        size=size, seeded_s=seeded_s, file_before_mb=before, file_after_mb=file_mb(state)
    )
    return figures


def main() -> int:
    """Run every size, print the table and the comparison; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated sizes")
    parser.add_argument("--messages", type=int, default=10_000, help="new messages per cycle")
    parser.add_argument(
        "--no-targets", action="store_true", help="fail only on correctness, not on targets"
    )
    parser.add_argument(
        "--max-rss", type=float, default=MAX_RSS_MB, help="target peak RSS of a cycle, MB"
    )
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--config-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        sink = quiet_logging()
        figures = asyncio.run(measured_cycle(args.config_dir, args.measure, args.url))
        sink.close()
        print(json.dumps(figures))
        return 0

    sizes = [max(0, min(int(s), 10_000_000)) for s in args.sizes.split(",") if s.strip()]
    messages = max(1, min(args.messages, 100_000))
    start = float(int(time.time()))
    print(
        f"python {sys.version.split()[0]}; per size: seed the state, then one cycle over "
        f"{messages} new messages (simulator in a child process, no latency) in a fresh "
        "child process"
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="tagger-state-growth-") as tmp:
        for size in sizes:
            r = run_size(size, messages, start, Path(tmp))
            results.append(r)
            db, wal = r["file_after_mb"]
            print(
                f"{size:>10,} messages on record (seeded in {r['seeded_s']:.1f} s): "
                f"cycle {r['seconds']:.2f} s for {r['found']} found, {r['info_calls']} info "
                f"calls, {r['applied']} applied; peak RSS {r['peak_rss_mb']:.0f} MB "
                f"({r['rss_before_mb']:.0f} MB before the cycle); state file "
                f"{r['file_before_mb'][0]:.1f} MB before, {db:.1f} MB + {wal:.1f} MB WAL after; "
                f"tags {r['tags_applied']} applied, {r['tags_expected']} expected"
            )
    small, large = results[0], results[-1]
    rss_diff = large["peak_rss_mb"] - small["peak_rss_mb"]
    ratio = large["seconds"] / small["seconds"]
    same_work = all(
        (r["found"], r["info_calls"], r["applied"], r["already_processed"], r["failed"])
        == (small["found"], small["info_calls"], small["applied"], 0, 0)
        and not r["errors"]
        for r in results
    )
    tags_ok = all(r["tags_as_expected"] for r in results)
    print(
        f"peak RSS {large['size']:,} vs {small['size']:,}: {rss_diff:+.1f} MB "
        f"(target < {MAX_RSS_DIFF_MB:g} MB); cycle time ratio {ratio:.2f} "
        f"(target < {MAX_TIME_RATIO:g})"
    )
    peak = max(r["peak_rss_mb"] for r in results)
    print(
        f"cycle over {messages:,} new messages ({small['found']:,} found): peak RSS"
        f" {peak:.0f} MB, {small['rss_before_mb']:.0f} MB before the cycle"
        f" (target <= {args.max_rss:g} MB)"
    )
    print(f"same work at every size: {same_work}; tags applied equal expected: {tags_ok}")
    flat = abs(rss_diff) < MAX_RSS_DIFF_MB and ratio < MAX_TIME_RATIO and peak <= args.max_rss
    print("flat: ok" if flat else "NOT FLAT" + (" (target only)" if args.no_targets else ""))
    if not (same_work and tags_ok):
        print("correctness: FAILED")
        return 1
    print("correctness: ok")
    return 0 if flat or args.no_targets else 1


if __name__ == "__main__":
    raise SystemExit(main())
