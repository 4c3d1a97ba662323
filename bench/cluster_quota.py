"""One credential, several node processes: the aggregate 429 share and the quota used.

    python -m bench.cluster_quota [--nodes 1,2,3] [--rate 5] [--bucket 10] [--seconds 6]
                                  [--accounts 2] [--no-baseline]

An in-process simulator limits get-message-info to a leaky bucket of
``--bucket`` requests refilled at ``--rate`` requests/s (``--mode``: how its
rate-limit headers read, see :data:`tagger.simulator.ratelimit.MODES`). A
throwaway PostgreSQL server (:mod:`testkit.pgserver`) holds the shared quota.
For each N of ``--nodes``, N node PROCESSES start, each with ``--accounts``
accounts of its own (all on the same credentials) and one
:class:`~tagger.cluster.quota.SharedQuota` on a fresh database; once all of
them are ready they queue every message's info read for every account at
once, bounded to ``--seconds`` (the rest is deferred, as a cycle's backlog
is). Unless ``--no-baseline``, the same runs with N >= 2 are repeated with
each node pacing alone (no shared quota: today's single-process pacing).

Prints, per run: the calls accepted and refused (429) by the simulator, the
share refused (target under 2%), the accepted calls against the quota's
allowance over the run (bucket + rate x seconds), and each node's share of
the accepted calls. The load average is printed before and after: figures
from a busy machine (load above its core count) are marked as such.
Exits 1 when a shared run refuses 2% of its calls or more (``--no-targets``:
report only).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import IO, Any

from bench.simproc import first_line
from testkit import ROOT

READY_TIMEOUT_S = 120.0
TARGET_429 = 0.02


async def _node_work(args: argparse.Namespace) -> dict[str, Any]:
    """Child: run this node's accounts once every node is ready; returns its counts."""
    from tagger.cluster.quota import SharedQuota
    from tagger.mimecast.client import MimecastClient
    from tagger.mimecast.settings import AccountSettings, OAuthCredentials
    from tagger.mimecast.sharedgate import GateRegistry
    from tagger.simulator.credentials import DEMO
    from testkit.quota import queue_info_reads

    ids: list[str] = json.loads(args.ids)
    quota = SharedQuota.connect(args.dsn, f"{args.node}#{os.getpid()}") if args.dsn else None
    gates = GateRegistry(quota)
    creds = OAuthCredentials(DEMO.client_id, DEMO.client_secret)
    clients = [
        MimecastClient(
            AccountSettings(
                name=f"{args.node}-{k}", api_version="2.0", base_url=args.url, credentials=creds
            ),
            gates=gates,
        )
        for k in range(args.accounts)
    ]
    try:
        for client in clients:
            await client.__aenter__()
            await client.list_smart_tags()  # token and tags, as the daemon does on start
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)  # "go"
        done = await asyncio.gather(*(queue_info_reads(c, ids, args.seconds) for c in clients))
        throttled = sum(c.stats.endpoint(c.endpoints.message_info).throttled for c in clients)
        return {
            "accepted": sum(a for a, _ in done),
            "deferred": sum(d for _, d in done),
            "throttled": throttled,
            "paced_alone": quota.alone_turns if quota is not None and not quota.reachable else 0,
        }
    finally:
        for client in clients:
            await client.__aexit__(None, None, None)
        if quota is not None:
            await quota.settled()
            await asyncio.to_thread(quota.close)


def node(args: argparse.Namespace) -> int:
    """Child: one node; prints "ready", waits for a line on stdin, prints its counts as JSON.

    Its log goes to stderr (warnings and above): stdout is the parent's channel.
    """
    import logging

    import structlog

    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
    )
    print(json.dumps(asyncio.run(_node_work(args))), flush=True)
    return 0


def run(
    args: argparse.Namespace, url: str, ids: list[str], n: int, dsn: str | None
) -> dict[str, Any]:
    """Run ``n`` node processes at once (``dsn`` None: each paces alone); returns the counts."""
    cmd = [sys.executable, "-m", "bench.cluster_quota", "--node", "--url", url]
    cmd += ["--ids", json.dumps(ids), "--seconds", str(args.seconds)]
    cmd += ["--accounts", str(args.accounts), "--dsn", dsn or ""]
    with tempfile.TemporaryFile("w+") as logs:
        return _nodes(args, cmd, n, logs)


def _nodes(args: argparse.Namespace, cmd: list[str], n: int, logs: IO[str]) -> dict[str, Any]:
    """Start ``n`` nodes with ``cmd`` (their log to ``logs``), start them together, collect."""
    procs = [
        subprocess.Popen(
            [*cmd, "--node-name", f"node-{k}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=logs,
            text=True,
            cwd=ROOT,
        )
        for k in range(n)
    ]
    try:
        for proc in procs:
            line = first_line(proc, READY_TIMEOUT_S)
            if line.strip() != "ready":
                logs.seek(0)
                raise RuntimeError(f"a node did not start: {line!r}\n{logs.read()[-3000:]}")
        started = time.monotonic()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        lines = [first_line(proc, args.seconds + READY_TIMEOUT_S) for proc in procs]
        elapsed = time.monotonic() - started
        try:
            counts = [json.loads(line) for line in lines]
        except ValueError:
            logs.seek(0)
            raise RuntimeError(f"a node failed: {lines!r}\n{logs.read()[-3000:]}") from None
    finally:
        for proc in procs:
            if proc.stdin is not None:
                proc.stdin.close()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return {"counts": counts, "elapsed": elapsed}


def measure(args: argparse.Namespace, n: int, shared: bool, pg: Any) -> tuple[str, float]:
    """One run against a fresh simulator (and database); returns its line and 429 share."""
    from tagger.simulator import Simulator, SimulatorConfig
    from tagger.simulator.config import INFO

    limits = {INFO: (args.bucket, args.bucket / args.rate)}
    config = SimulatorConfig(
        seed=7, messages=args.messages, rate_limits=limits, rate_limit_mode=args.mode
    )
    with Simulator(config) as sim:
        ids = [m.id for m in sim.messages()]
        got = run(args, sim.url, ids, n, pg.database() if shared else None)
        info = sim.stats()["endpoints"]["info"]["by_status"]
    ok, refused = int(info.get("200", 0)), int(info.get("429", 0))
    share = refused / max(ok + refused, 1)
    allowed = args.bucket + args.rate * got["elapsed"]
    per_node = [c["accepted"] for c in got["counts"]]
    nodes = " ".join(f"{a / max(sum(per_node), 1):4.0%}" for a in per_node)
    alone = sum(c["paced_alone"] for c in got["counts"])
    line = (
        f"{'shared' if shared else 'alone ':6} N={n}  accepted {ok:4d}  429 {refused:4d}"
        f" ({share:5.1%})  used {ok / allowed:5.1%} of {allowed:5.0f} allowed"
        f" in {got['elapsed']:4.1f} s  per node {nodes}"
        + (f"  paced alone {alone}" if alone else "")
    )
    return line, share


def _load() -> str:
    one, five, _ = os.getloadavg()
    cores = os.cpu_count() or 1
    busy = " (busy machine: load above the core count)" if one > cores else ""
    return f"load {one:.2f} {five:.2f} on {cores} cores{busy}"


def main() -> int:
    """Parse the arguments; runs a node (``--node``) or every configuration."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--nodes", default="1,2,3")
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--bucket", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--accounts", type=int, default=2)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--mode", default="leaky")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--no-targets", action="store_true")
    parser.add_argument("--node", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--node-name", default="node", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--ids", help=argparse.SUPPRESS)
    parser.add_argument("--dsn", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.node:
        args.node = args.node_name
        return node(args)
    from testkit.pgserver import PgServer

    counts = [int(n) for n in args.nodes.split(",")]
    print(
        f"one credential, get-message-info limited to a bucket of {args.bucket} at {args.rate:g}/s"
        f" ({args.mode}); {args.accounts} accounts per node, {args.seconds:g} s per run"
    )
    print(_load())
    missed = []
    pg = PgServer.start()
    try:
        for n in counts:
            line, share = measure(args, n, True, pg)
            print(line, flush=True)
            if share >= TARGET_429:
                missed.append(f"N={n}: {share:.1%} of calls refused")
        if not args.no_baseline:
            for n in (n for n in counts if n >= 2):
                print(measure(args, n, False, pg)[0], flush=True)
    finally:
        pg.stop()
    print(_load())
    for miss in missed:
        print(f"target missed (429s under {TARGET_429:.0%}): {miss}")
    return 1 if missed and not args.no_targets else 0


if __name__ == "__main__":
    sys.exit(main())
