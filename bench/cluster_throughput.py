"""Cluster throughput: 1, 2, 3 ``tagger run`` nodes on many accounts, each with its own quota.

For each node count N: a fresh PostgreSQL database, a fresh simulator child
serving K accounts (:mod:`bench.simfarm`; each account its own mailbox,
credentials and apply quota, so no quota is shared), and N nodes sharing one
config (:func:`bench.chaos.write_config`: PostgreSQL ledger, the cluster on).
Once every account is held and the leases are balanced, M new messages
arrive in every account at once; the clock runs until every expected
(message, tag) pair is applied at the simulator. Printed per N:

- aggregate tagged messages per second (the rule tags every message once);
- CPU seconds per tagged message: user + system time of the node processes
  over that span (``/proc/PID/stat``), all nodes together;
- duplicate apply calls (must be 0).

The simulator and this process run on the same machine and take CPU too:
on a machine with fewer cores than nodes, the nodes share them, and the
aggregate stops growing once the cores are busy. The figures say how many
cores there were.

    .venv/bin/python -m bench.cluster_throughput --accounts 12 --messages 150 --nodes 1,2,3
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.chaos import CHAOS_RULE, Ledger, Node, poll, write_config
from bench.simfarm import sim_farm
from testkit.pgserver import PgServer

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Row:
    """One node count's figures."""

    nodes: int
    accounts: int
    messages: int
    seconds: float
    per_second: float
    cpu_s: float
    cpu_ms_per_message: float
    duplicates: int


def cpu_seconds(pid: int) -> float:
    """Return user + system CPU seconds process ``pid`` has used (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15)


def balanced(ledger: Ledger, names: list[str], accounts: int) -> bool:
    """True when every account is held and each node holds its fair share (or one less)."""
    held = ledger.leases()
    if len(held) < accounts or any(owner is None for owner, _ in held.values()):
        return False
    counts = [sum(1 for owner, _ in held.values() if owner == n) for n in names]
    share = -(-accounts // len(names))
    return all(share - 1 <= c <= share for c in counts)


def measure(
    server: PgServer,
    nodes: int,
    accounts: int,
    messages: int,
    latency_ms: float,
    apply_per_min: int,
    log: Callable[[str], None],
) -> Row:
    """Run N nodes over a fresh farm and database; return the figures."""
    with tempfile.TemporaryDirectory(prefix="tagger-cthru-") as tmp:
        work = Path(tmp)
        rule = work / "chaos-rule.yaml"
        rule.write_text(CHAOS_RULE, encoding="utf-8")
        database = server.database("thru")
        with sim_farm(
            accounts,
            messages=0,
            start=time.time(),
            rules=[rule],
            latency_ms=latency_ms,
            apply_per_min=apply_per_min,
        ) as farm:
            config = write_config(work, farm, 20.0, 2.0, 1.0, concurrency=8)
            members = [
                Node(f"node-{chr(ord('a') + i)}", config, database, None) for i in range(nodes)
            ]
            ledger = Ledger(database)
            try:
                for node in members:
                    node.start()
                names = [n.name for n in members]

                def ready() -> bool:
                    try:
                        return balanced(ledger, names, accounts)
                    except Exception:  # the tables do not exist before the first node made them
                        return False

                if poll(ready, 180, 0.2) is None:
                    raise RuntimeError("the nodes did not share the accounts out within 180 s")
                cpu0 = sum(cpu_seconds(n.run.pid) for n in members)
                farm.add(messages)
                t0 = time.monotonic()
                expected = farm.expected()
                want = sum(len(p) for p in expected.values())

                def done() -> bool:
                    applied = farm.applied()
                    return all(pairs <= set(applied.get(a, {})) for a, pairs in expected.items())

                if poll(done, 600, 0.2) is None:
                    raise RuntimeError("not every expected pair was applied within 600 s")
                seconds = time.monotonic() - t0
                cpu = sum(cpu_seconds(n.run.pid) for n in members) - cpu0
                calls = farm.applied()
                duplicates = sum(n - 1 for c in calls.values() for n in c.values() if n > 1)
            finally:
                for node in members:
                    node.stop()
                ledger.close()
    row = Row(
        nodes=nodes,
        accounts=accounts,
        messages=want,
        seconds=round(seconds, 2),
        per_second=round(want / seconds, 1),
        cpu_s=round(cpu, 2),
        cpu_ms_per_message=round(cpu * 1000 / max(1, want), 2),
        duplicates=duplicates,
    )
    log(json.dumps(asdict(row)))
    return row


def report(rows: list[Row], cores: int) -> str:
    """Return the figures as a table."""
    lines = [
        f"cluster throughput ({cores} CPU cores on this machine; the simulator shares them)",
        "nodes  accounts  tagged  seconds  tagged/s  node CPU s  CPU ms/tagged  duplicates",
    ]
    lines += [
        f"{r.nodes:5d}  {r.accounts:8d}  {r.messages:6d}  {r.seconds:7.1f}  {r.per_second:8.1f}"
        f"  {r.cpu_s:10.1f}  {r.cpu_ms_per_message:13.2f}  {r.duplicates:10d}"
        for r in rows
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, measure each node count, print the table; 1 on a duplicate apply."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=12, help="simulated accounts (default 12)")
    parser.add_argument("--messages", type=int, default=150, help="new messages per account")
    parser.add_argument("--nodes", default="1,2,3", help="node counts to measure (default 1,2,3)")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="simulated API latency")
    parser.add_argument(
        "--apply-per-min", type=int, default=6000, help="each account's own apply quota per minute"
    )
    parser.add_argument("--json", action="store_true", help="print the rows as JSON lines")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.nodes.split(",") if n]
    if not counts or min(counts) < 1 or args.accounts < 1 or args.messages < 1:
        parser.error("--nodes, --accounts and --messages must be positive")

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    server = PgServer.start()
    try:
        rows = [
            measure(
                server, n, args.accounts, args.messages, args.latency_ms, args.apply_per_min, log
            )
            for n in counts
        ]
    finally:
        server.stop()
    cores = os.cpu_count() or 1
    if args.json:
        print("\n".join(json.dumps(asdict(r) | {"cores": cores}) for r in rows), flush=True)
    else:
        print(report(rows, cores), flush=True)
    return 0 if all(r.duplicates == 0 for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
