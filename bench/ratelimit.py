"""Rate limits: ``tagger once`` against a quota, for every reading of its rate-limit headers.

    python -m bench.ratelimit [--mode leaky] [--rate 5] [--bucket 20] [--messages 300]
    python -m bench.ratelimit --table [--rates 2,5,20] [--sizes 300,3000]

A simulator runs in a child process (always this checkout's) with every
endpoint limited as a leaky bucket of ``--bucket`` requests refilled at
``--rate`` requests/s, its headers read as ``--mode`` says (see
:data:`tagger.simulator.ratelimit.MODES`: leaky, leaky-zero, interval, window,
bare, retry-after). The real ``tagger once`` command then runs against it in
another process, over the shipped rules (``rules/*.yaml``), with the
account's concurrency at ``--concurrency``; while the tags applied differ from
the expected ones it runs again, up to 4 passes. ``--tagger DIR`` runs the
``tagger`` package found in DIR instead of this checkout's (e.g. an older
checkout, for a "before" figure); the server and the expected tags stay this
checkout's. ``--table`` runs every mode for every quota and size.

Prints one row per cell: the first pass's wall time against the least time the
quota allows (the busiest endpoint's calls beyond the bucket at the rate), the
ratio of the busiest endpoint's served calls to what the server allows in the
first pass's time (bucket + rate x seconds, process start included), the share
of calls answered 429 (every endpoint, token included), the passes needed, the
first pass's exit status, its ``message_failed`` warnings, and the calls made
(every endpoint, token included) per expected tag: the quota spent per
finished piece of work.

Exits 1 when a target is missed (one pass, exit 0, ratio >= 0.9, 429s under 2%
of calls, 0 ``message_failed``); ``--no-targets`` reports them without failing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from testkit import ROOT, RULES_DIR
from testkit.setup import TEST_WINDOW

START_TIMEOUT_S = 120.0


def serve(args: argparse.Namespace) -> int:
    """Child: serve a rate-limited simulator until stdin closes; prints URL and expected tags."""
    from datetime import UTC, datetime

    from tagger.simulator import Simulator, SimulatorConfig
    from tagger.simulator.config import ENDPOINTS
    from tagger.simulator.credentials import DEMO
    from testkit.expected import expected_pairs

    config = SimulatorConfig(
        seed=args.seed,
        messages=args.messages,
        start_time=datetime.fromtimestamp(args.start, UTC),
        rate_limits={endpoint: (args.bucket, args.bucket / args.rate) for endpoint in ENDPOINTS},
        rate_limit_mode=args.mode,
    )
    with Simulator(config) as sim:
        expected = sorted(expected_pairs(sim, None, visible_only=False))
        print(f"listening on {sim.url}", flush=True)
        print(json.dumps({"client": [DEMO.client_id, DEMO.client_secret], "expected": expected}))
        sys.stdout.flush()
        sys.stdin.read()
    return 0


@contextmanager
def child_simulator(args: argparse.Namespace, start: float) -> Iterator[tuple[str, dict[str, Any]]]:
    """Start the serving child (this checkout's package); yields its URL and its facts.

    Raises RuntimeError when it does not start.
    """
    cmd = [sys.executable, "-m", "bench.ratelimit", "--serve"]
    cmd += ["--messages", str(args.messages), "--rate", str(args.rate)]
    cmd += ["--mode", args.mode, "--bucket", str(args.bucket)]
    cmd += ["--seed", str(args.seed), "--start", repr(start)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        lines = _read_lines(proc, 2, START_TIMEOUT_S)
        if len(lines) < 2 or not lines[0].startswith("listening on "):
            raise RuntimeError(f"rate-limited simulator did not start: {lines!r}")
        yield lines[0].split(" ", 2)[2].strip(), json.loads(lines[1])
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(timeout=15)


def _read_lines(proc: subprocess.Popen[str], n: int, timeout: float) -> list[str]:
    """Return up to ``n`` lines of the child's output read within ``timeout`` seconds."""
    got: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for _ in range(n):
            got.append(proc.stdout.readline())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    return list(got)


def write_config(
    tmp: Path, url: str, client: list[str], concurrency: int, *, tagger_knows_rollout: bool
) -> Path:
    """Write the tagger config (plain YAML, readable by any version); returns its path.

    ``rollout: enforce`` is written only for a tagger that knows the key (an
    older one refuses unknown keys and applies at once anyway).
    """
    data: dict[str, Any] = {
        "accounts": [
            {
                "name": "bench",
                "api_version": "2.0",
                "base_url": url,
                "credentials": {"client_id": client[0], "client_secret": client[1]},
                "concurrency": concurrency,
                "timeout_s": 30,
            }
        ],
        "rules": [str(RULES_DIR / "*.yaml")],
        "state_path": str(tmp / "state.db"),
        "window": dict(TEST_WINDOW),
        "logging": {"format": "json", "level": "info"},
    }
    if tagger_knows_rollout:
        # The benchmark measures applying: no audit-first wait for promotion.
        data["rollout"] = "enforce"
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return path


# Runs ``tagger`` from the working directory (``-c`` puts it first on the path)
# whatever package an editable install points at: its finder is dropped, so no
# module missing from an older checkout is taken from the installed one.
BOOTSTRAP = """
import runpy, sys
sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
sys.argv = ["tagger", *sys.argv[1:]]
runpy.run_module("tagger", run_name="__main__", alter_sys=True)
"""


def run_once(config: Path, package_dir: Path) -> tuple[int, float, str, str]:
    """Run ``tagger once`` from ``package_dir``; returns (exit status, seconds, stdout, stderr)."""
    env = {**os.environ, "PYTHONPATH": str(package_dir)}
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", BOOTSTRAP, "once", "-c", str(config)],
        cwd=package_dir,
        capture_output=True,
        text=True,
        env=env,
        timeout=3600,
        check=False,
    )
    return done.returncode, time.perf_counter() - began, done.stdout, done.stderr


def sim_stats(url: str) -> dict[str, Any]:
    """Return the simulator's counters."""
    response = httpx.get(f"{url}/_sim/stats", timeout=30)
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def figures(stats: dict[str, Any], seconds: float, rate: int, bucket: int) -> dict[str, Any]:
    """Return the 429 share and the busiest endpoint's ratio to the allowed rate."""
    served: dict[str, int] = {}
    total = throttled = 0
    for endpoint, counts in stats["endpoints"].items():
        by_status = {int(k): int(v) for k, v in counts.get("by_status", {}).items()}
        total += sum(by_status.values())
        throttled += by_status.get(429, 0)
        served[endpoint] = sum(v for k, v in by_status.items() if k != 429)
    busiest = max(served, key=lambda e: served[e])
    allowed = bucket + rate * seconds  # a full bucket, then `rate` per second
    return {
        "calls": total,
        "throttled": throttled,
        "share": throttled / total if total else 0.0,
        "served": served,
        "busiest": busiest,
        "ratio": served[busiest] / allowed,
        "applied": {(a["id"], a["smartTagId"]) for a in stats["applied"]},
    }


MAX_PASSES = 4


def run_cell(args: argparse.Namespace) -> dict[str, Any]:
    """Run ``tagger once`` (again while work is left, up to :data:`MAX_PASSES`); returns figures.

    The figures are those of the first pass (wall time, 429 share, ratio to the
    allowed rate, ``message_failed`` warnings) and the passes needed until the
    tags applied equal the expected ones.
    """
    start = float(int(time.time()))
    with (
        tempfile.TemporaryDirectory(prefix="tagger-bench-rl-") as tmp_name,
        child_simulator(args, start) as (url, facts),
    ):
        schema = args.tagger.resolve() / "tagger" / "config" / "config.schema.json"
        knows = schema.is_file() and '"rollout"' in schema.read_text(encoding="utf-8")
        config = write_config(
            Path(tmp_name), url, facts["client"], args.concurrency, tagger_knows_rollout=knows
        )
        status, seconds, out, err = run_once(config, args.tagger.resolve())
        first = figures(sim_stats(url), seconds, args.rate, args.bucket)
        expected = {(m, t) for m, t in facts["expected"]}
        passes, statuses = 1, [status]
        while sim_applied(url) != expected and passes < MAX_PASSES:
            more_status, _s, _o, _e = run_once(config, args.tagger.resolve())
            passes += 1
            statuses.append(more_status)
        done = sim_applied(url) == expected
    failed_match = re.findall(r"(\d+) failed", out)
    first["status"] = status
    first["seconds"] = seconds
    first["out"] = out
    first["expected"] = expected
    first["failed"] = sum(int(n) for n in failed_match) if failed_match else None
    first["message_failed"] = err.count('"message_failed"')
    first["passes"] = passes if done else None
    first["statuses"] = statuses
    # The least time the quota allows: the busiest endpoint's calls at its rate.
    need = max(0.0, (first["served"][first["busiest"]] - args.bucket) / args.rate)
    first["minimum_s"] = need
    return first


def sim_applied(url: str) -> set[tuple[str, str]]:
    """Return the (message, tag) pairs the simulator has applied."""
    return {(a["id"], a["smartTagId"]) for a in sim_stats(url)["applied"]}


def report_cell(args: argparse.Namespace, got: dict[str, Any]) -> list[str]:
    """Return what the targets missed (empty: all met), printing the cell's figures."""
    one_pass = got["passes"] == 1 and got["applied"] == got["expected"] and got["failed"] == 0
    missed = [
        what
        for ok, what in (
            (got["share"] < 0.02, "429s < 2% of calls"),
            (one_pass, "one pass"),
            (got["status"] == 0, "exit 0"),
            (got["ratio"] >= 0.9, "ratio >= 0.9"),
            (got["message_failed"] == 0, "0 message_failed"),
        )
        if not ok
    ]
    print(
        f"| {args.mode:<11} | {args.rate:>3}/s | {args.messages:>5} | {got['seconds']:7.1f} s |"
        f" {got['minimum_s']:7.1f} s | {got['ratio']:5.2f} | {got['share']:6.1%} |"
        f" {got['passes'] if got['passes'] is not None else '>' + str(MAX_PASSES):>6} |"
        f" {got['status']:>4} | {got['message_failed']:>6} |"
        f" {got['calls'] / max(len(got['expected']), 1):8.2f} |",
        flush=True,
    )
    return missed


HEADER = (
    "| headers     | quota | msgs  |   once    |  minimum  | ratio |  429s  | passes |"
    " exit | failed | calls/tag |\n"
    "|-------------|-------|-------|-----------|-----------|-------|--------|--------|"
    "------|--------|----------|"
)


def main() -> int:
    """Run the benchmark (or, with ``--serve``, the child simulator); returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rate", type=int, default=5, help="requests/s per endpoint")
    parser.add_argument("--bucket", type=int, default=20, help="requests the bucket holds")
    parser.add_argument("--mode", default="leaky", help="how the headers read (simulator MODES)")
    parser.add_argument("--table", action="store_true", help="every mode x --rates x --sizes")
    parser.add_argument("--rates", default="2,5,20", help="quotas of the table (requests/s)")
    parser.add_argument("--sizes", default="300,3000", help="mailbox sizes of the table")
    parser.add_argument("--concurrency", type=int, default=8, help="the account's concurrency")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tagger", type=Path, default=ROOT, help="directory of the package")
    parser.add_argument("--no-targets", action="store_true", help="do not fail on targets")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args)
    from tagger.simulator.ratelimit import MODES

    cells = [(args.mode, args.rate, args.messages)]
    if args.table:
        rates = [int(r) for r in args.rates.split(",")]
        sizes = [int(n) for n in args.sizes.split(",")]
        cells = [(m, r, n) for n in sizes for r in rates for m in MODES]
    print(
        f"python {sys.version.split()[0]}; simulator in a child process, every endpoint"
        f" limited as a bucket of {args.bucket} refilled at the quota; `tagger once` from"
        f" {args.tagger.resolve()}, concurrency {args.concurrency}\n"
    )
    print(HEADER)
    missed_any: list[str] = []
    for mode, rate, messages in cells:
        cell = argparse.Namespace(**{**vars(args), "mode": mode, "rate": rate})
        cell.messages = messages
        missed = report_cell(cell, run_cell(cell))
        missed_any += [f"{mode} {rate}/s {messages}: {m}" for m in missed]
    if missed_any:
        print("\ntargets missed:\n  " + "\n  ".join(missed_any))
        return 0 if args.no_targets else 1
    print("\nevery target was met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
