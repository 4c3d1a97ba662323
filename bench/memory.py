"""Memory of a cycle however large the backlog: 10,000 new messages, then 50,000.

    python -m bench.memory [--sizes 10000,50000] [--max-rss 80] [--max-ratio 1.2] [--example]

For each size a simulator in a child process (no latency, generous quotas)
holds that many new messages received over its last 6 hours, and a fresh
child process runs one real cycle over them (the shipped rules, account
concurrency 16, an empty state, the rails' limits out of reach so every
expected tag is applied). The measuring child reports its peak resident
memory (``VmHWM``) before and after the cycle, and what the cycle did. The
window is worked through in slices of bounded size
(:mod:`tagger.engine.slices`), so the peak should not follow the backlog.
``--example`` runs with ``config.example.yaml`` instead (pointed at the
simulator, its state and audit file in a temporary directory): audit-first
rollout, so the rules audit and nothing is applied, and every decision is
written to the audit file.

Prints one line per size, then the smallest size's peak against
``--max-rss`` and the largest's against ``--max-ratio`` times it. Exits 1
when a cycle did not apply exactly the expected tags (correctness) and,
unless ``--no-targets``, when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from bench.benchlib import expected_pairs, quiet_logging
from bench.simproc import child_simulator, sim_config
from bench.state_growth import peak_rss_mb
from tagger.config import load_config
from tagger.simulator import Simulator
from tagger.simulator.credentials import DEMO
from testkit import ROOT, RULES_DIR
from testkit.setup import TEST_WINDOW

MAX_RSS_MB = 80.0
MAX_RATIO = 1.2


def example_config(tmp: Path, url: str) -> dict[str, Any]:
    """Return ``config.example.yaml`` pointed at the simulator at ``url``, writing into ``tmp``."""
    data: dict[str, Any] = yaml.safe_load((ROOT / "config.example.yaml").read_text("utf-8"))
    account = data["accounts"][0]
    account.update(base_url=url)
    account["credentials"] = {"client_id": DEMO.client_id, "client_secret": DEMO.client_secret}
    account.pop("domains", None)
    data.update(rules=[str(RULES_DIR / "*.yaml")], state_path=str(tmp / "state.db"))
    data["audit"]["path"] = str(tmp / "audit" / "audit.jsonl")
    data["logging"] = {"format": "json", "level": "info"}
    return data


def write_config(tmp: Path, url: str, *, example: bool = False) -> Path:
    """Write the measured cycle's config into ``tmp``; returns its path."""
    data: dict[str, Any] = (
        example_config(tmp, url)
        if example
        else {
            "accounts": [
                {
                    "name": "bench",
                    "api_version": "2.0",
                    "base_url": url,
                    "credentials": {
                        "client_id": DEMO.client_id,
                        "client_secret": DEMO.client_secret,
                    },
                    "concurrency": 16,
                    "timeout_s": 30,
                }
            ],
            "rules": [str(RULES_DIR / "*.yaml")],
            "state_path": str(tmp / "state.db"),
            "window": dict(TEST_WINDOW),
            "logging": {"format": "json", "level": "info"},
            "rollout": "enforce",
            # Every expected tag is applied: the rails' limits are out of reach.
            "limits": {
                "per_cycle": 10_000_000,
                "per_day": 100_000_000,
                "anomaly_factor": 1_000_000,
            },
        }
    )
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return path


async def measured_cycle(config_path: Path) -> dict[str, Any]:
    """Run one live cycle with the config at ``config_path``; returns its figures."""
    from tagger.engine.options import cycle_options
    from tagger.engine.run import run_cycle
    from tagger.service.runtime import open_runtime, open_state

    config = load_config(config_path, env={})
    runtime = await open_runtime(config)
    try:
        with open_state(config, dry_run=False) as store:
            before = peak_rss_mb()
            began = time.perf_counter()
            reports = await run_cycle(
                runtime, store, cycle_options(config), lambda: datetime.now(UTC)
            )
            seconds = time.perf_counter() - began
    finally:
        await runtime.close()
    report = reports[0]
    return {
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": before,
        "found": report.messages_found,
        "info_calls": report.info_calls,
        "applied": report.applied,
        "failed": report.failed,
        "errors": report.errors,
    }


def run_size(messages: int, start: float, tmp: Path, *, example: bool) -> dict[str, Any]:
    """Measure one cycle over ``messages`` new messages in a fresh child; returns its figures."""
    where = tmp / f"size-{messages}"
    where.mkdir()
    with child_simulator(messages=messages, start=start) as sim:
        config = write_config(where, sim.url, example=example)
        cmd = [sys.executable, "-m", "bench.memory", "--measure", str(config)]
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=7200, check=False, cwd=ROOT
        )
        if done.returncode != 0:
            raise SystemExit(f"measuring child failed ({done.returncode}):\n{done.stderr[-3000:]}")
        figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        applied = sim.applied()
    ruleset_config = load_config(config, env={})
    from tagger.service.runtime import load_ruleset

    expected = expected_pairs(
        Simulator(sim_config(messages=messages, start=start)), load_ruleset(ruleset_config)
    )
    # Audit-first rollout (the example config) applies nothing: the audit is the work.
    as_expected = not applied if example else applied == expected
    figures.update(messages=messages, tags_as_expected=as_expected, expected=len(expected))
    return figures


def main() -> int:
    """Run every size and print the figures; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,50000", help="new messages per measured cycle")
    parser.add_argument("--max-rss", type=float, default=MAX_RSS_MB, help="MB, smallest size")
    parser.add_argument("--max-ratio", type=float, default=MAX_RATIO, help="largest / smallest")
    parser.add_argument("--no-targets", action="store_true", help="fail only on correctness")
    parser.add_argument("--example", action="store_true", help="config.example.yaml's settings")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        sink = quiet_logging()
        figures = asyncio.run(measured_cycle(args.measure))
        sink.close()
        print(json.dumps(figures))
        return 0
    sizes = [max(1, min(int(s), 1_000_000)) for s in args.sizes.split(",") if s.strip()]
    start = float(int(time.time()))
    print(
        f"python {sys.version.split()[0]}; per size, one cycle over that many new messages in a"
        " fresh child process (simulator in another, no latency; shipped rules; "
        + ("config.example.yaml)" if args.example else "concurrency 16, enforce)")
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="tagger-memory-") as tmp:
        for messages in sizes:
            r = run_size(messages, start, Path(tmp), example=args.example)
            results.append(r)
            print(
                f"{messages:>9,} new messages: {r['found']:,} found, {r['info_calls']:,} info"
                f" calls, {r['applied']:,} applied ({r['expected']:,} expected) in"
                f" {r['seconds']:.1f} s; peak RSS {r['peak_rss_mb']:.0f} MB"
                f" ({r['rss_before_mb']:.0f} MB before the cycle)",
                flush=True,
            )
    small, large = results[0], results[-1]
    ratio = large["peak_rss_mb"] / small["peak_rss_mb"]
    print(
        f"peak RSS over {small['messages']:,}: {small['peak_rss_mb']:.1f} MB (target <="
        f" {args.max_rss:g} MB); over {large['messages']:,}: {large['peak_rss_mb']:.1f} MB,"
        f" {ratio:.2f} times (target <= {args.max_ratio:g})"
    )
    correct = all(r["tags_as_expected"] and r["failed"] == 0 and not r["errors"] for r in results)
    met = small["peak_rss_mb"] <= args.max_rss and ratio <= args.max_ratio
    what = "nothing applied (audit-first)" if args.example else "tags applied equal expected"
    print(f"{what}, nothing failed: {correct}")
    print("targets: met" if met else "targets: MISSED")
    if not correct:
        return 1
    return 0 if met or args.no_targets else 1


if __name__ == "__main__":
    raise SystemExit(main())
