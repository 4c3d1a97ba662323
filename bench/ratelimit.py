"""Rate limits: the first ``tagger once`` against a server allowing a few requests/s per endpoint.

    python -m bench.ratelimit [--messages 300] [--rate 5] [--concurrency 8] [--tagger DIR]

A simulator runs in a child process (always this checkout's) with every
endpoint limited to ``--rate`` requests per second as a leaky bucket, as
Mimecast's service does: a bucket of ``--rate`` requests, one added back every
``1 / rate`` s, ``X-RateLimit-Reset`` = milliseconds until the next one. The
real ``tagger once`` command then runs against it in another process, over the
shipped rules (``rules/*.yaml``), with the account's concurrency at
``--concurrency``. ``--tagger DIR`` runs the ``tagger`` package found in DIR
instead of this checkout's (e.g. an older checkout, for a "before" figure);
the server and the expected tags stay this checkout's.

Prints:

1. the share of calls answered 429 (every endpoint, token included);
2. whether the first ``once`` finished all its work in one pass: the tags
   applied equal the expected ones (computed from the mailbox with the rule
   evaluator alone) and its summary reports 0 failed;
3. the achieved request rate on the busiest endpoint as a ratio of what the
   server allows there in the same time: served calls / (bucket + rate x
   seconds), the cycle's whole duration (process start included).

Exits 1 when a target is missed (< 5% answered 429, all work done in one
pass, ratio >= 0.9); ``--no-targets`` reports them without failing.
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
        rate_limits={endpoint: (args.rate, 1.0) for endpoint in ENDPOINTS},
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
        "window": {
            "overlap": "10m",
            "ingestion_delay": "0s",
            "initial_lookback": "24h",
            "max_catchup": "7d",
            "split_min": "1s",
            "search_cap": 500,
        },
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


def run_once(config: Path, package_dir: Path) -> tuple[int, float, str]:
    """Run ``tagger once`` from ``package_dir``; returns (exit status, seconds, stdout)."""
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
    return done.returncode, time.perf_counter() - began, done.stdout


def sim_stats(url: str) -> dict[str, Any]:
    """Return the simulator's counters."""
    response = httpx.get(f"{url}/_sim/stats", timeout=30)
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def figures(stats: dict[str, Any], seconds: float, rate: int) -> dict[str, Any]:
    """Return the 429 share and the busiest endpoint's ratio to the allowed rate."""
    served: dict[str, int] = {}
    total = throttled = 0
    for endpoint, counts in stats["endpoints"].items():
        by_status = {int(k): int(v) for k, v in counts.get("by_status", {}).items()}
        total += sum(by_status.values())
        throttled += by_status.get(429, 0)
        served[endpoint] = sum(v for k, v in by_status.items() if k != 429)
    busiest = max(served, key=lambda e: served[e])
    allowed = rate + rate * seconds  # a full bucket, then `rate` per second
    return {
        "calls": total,
        "throttled": throttled,
        "share": throttled / total if total else 0.0,
        "served": served,
        "busiest": busiest,
        "ratio": served[busiest] / allowed,
        "applied": {(a["id"], a["smartTagId"]) for a in stats["applied"]},
    }


def main() -> int:
    """Run the benchmark (or, with ``--serve``, the child simulator); returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rate", type=int, default=5, help="requests/s per endpoint")
    parser.add_argument("--concurrency", type=int, default=8, help="the account's concurrency")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tagger", type=Path, default=ROOT, help="directory of the package")
    parser.add_argument("--no-targets", action="store_true", help="do not fail on targets")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args)
    start = float(int(time.time()))
    print(
        f"python {sys.version.split()[0]}; simulator in a child process: {args.messages} "
        f"messages, every endpoint limited to {args.rate} requests/s (leaky bucket of "
        f"{args.rate}); `tagger once` from {args.tagger.resolve()}, concurrency "
        f"{args.concurrency}"
    )
    with (
        tempfile.TemporaryDirectory(prefix="tagger-bench-rl-") as tmp_name,
        child_simulator(args, start) as (url, facts),
    ):
        schema = args.tagger.resolve() / "tagger" / "config" / "config.schema.json"
        knows = schema.is_file() and '"rollout"' in schema.read_text(encoding="utf-8")
        config = write_config(
            Path(tmp_name), url, facts["client"], args.concurrency, tagger_knows_rollout=knows
        )
        status, seconds, out = run_once(config, args.tagger.resolve())
        stats = sim_stats(url)
    expected = {(m, t) for m, t in facts["expected"]}
    got = figures(stats, seconds, args.rate)
    failed_match = re.findall(r"(\d+) failed", out)
    failed = sum(int(n) for n in failed_match) if failed_match else None
    one_pass = got["applied"] == expected and failed == 0
    share_ok, ratio_ok = got["share"] < 0.05, got["ratio"] >= 0.9
    missed = [
        what
        for ok, what in (
            (share_ok, "429 share < 5%"),
            (one_pass, "all work done in one pass"),
            (ratio_ok, "ratio >= 0.9"),
        )
        if not ok
    ]
    print(f"\n`tagger once`: exit status {status}, {seconds:.1f} s")
    for line in out.strip().splitlines()[-3:]:
        print(f"   | {line}")
    per_endpoint = ", ".join(
        f"{e} {n}" for e, n in sorted(got["served"].items(), key=lambda x: -x[1]) if n
    )
    print(f"1. calls answered 429: {got['throttled']} of {got['calls']} ({got['share']:.1%})")
    print(f"   served per endpoint: {per_endpoint}")
    print(
        f"2. all work done in one pass: {'yes' if one_pass else 'no'} "
        f"({len(got['applied'])} tags applied, {len(expected)} expected, identical: "
        f"{got['applied'] == expected}; {failed if failed is not None else '?'} failed)"
    )
    print(
        f"3. ratio to the allowed rate: {got['ratio']:.2f} ({got['served'][got['busiest']]} "
        f"{got['busiest']} calls served in {seconds:.1f} s; allowed {args.rate} + "
        f"{args.rate}/s x {seconds:.1f} s)"
    )
    if missed:
        print(f"\ntargets missed: {', '.join(missed)}")
        return 0 if args.no_targets else 1
    print("\nevery target was met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
