"""Chaos on a cluster: three ``tagger run`` nodes, many accounts, one fault at a time.

Starts PostgreSQL (:class:`testkit.pgserver.PgServer`), one simulator child
serving K accounts, each with its own mailbox and credentials
(:mod:`bench.simfarm`), and three ``tagger run`` nodes sharing one config
(``state: {backend: postgresql}``, a short lease and renew, each node named
by ``TAGGER_NODE``). With :mod:`testkit.faultproxy` available, each node
reaches PostgreSQL through a proxy of its own. Each trial adds mail to every
account, waits a seeded random number of applies (so applies are in flight),
picks an account whose apply count is moving and injects ONE fault on the
node holding it, in rotation:

- ``kill``: SIGKILL the owner; it is restarted once another node took the account;
- ``stop``: SIGSTOP the owner until another node took the account and its lease
  is past, then SIGCONT: its log must say ``lease_lost`` for the account;
- ``terminate``: ``pg_terminate_backend`` on every connection of the owner;
- ``blackhole``: its proxy answers nothing until another node took the account;
- ``reset``: its proxy resets every connection, old and new, for two renew periods.

Then the harness waits (bounded) until every expected (message, tag) pair is
applied at the simulator or listed in doubt (the claims table), and checks:

- at most ONE apply call per (message, tag) at the simulator (its apply counts);
- every expected pair applied or in doubt (none missing);
- no pair in doubt that the simulator shows tagged once the nodes had time to
  read it back (read-back resolves every claim it can);
- failover time, from the fault to the account's lease taken by another node
  (the leases table's epoch), within the documented bound: lease + renew + one
  round (taken as a renew period).

Each account's mail stays under the search cap (500): 40 messages, and 8 more
per trial, for 50 trials. Claims in doubt hold their messages back, and with
them the account's search window; once that window held more than the cap,
new mail was no longer reached (seen from trial 31 with 15 messages a trial),
a limit of the cluster's that the harness reports as missing pairs.

Expected pairs come from the simulator's own truth and the rule evaluator
(:func:`testkit.expected.expected_pairs`), never from tagger's answers. The
rule decides from the search summary alone, so only the ledger and the claims
stand between a fault and a second apply. Prints one line per trial and the
figures; exits 1 on a duplicate, a missing pair, a failover over the bound or
a stopped node that did not drop its account.

    .venv/bin/python -m bench.chaos --trials 50 --nodes 3 --accounts 9 --seed 1
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import yaml
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bench.simfarm import Farm, sim_farm
from tagger.cluster import claims
from testkit.pgserver import PgServer
from testkit.processes import Running

try:  # the proxy scenarios need testkit.faultproxy; without it they are left out (and said so)
    from testkit.faultproxy import FaultProxy
except ImportError:  # pragma: no cover - depends on the checkout
    FaultProxy = None  # type: ignore[assignment,misc]

FAULTS = ("kill", "stop", "terminate", "blackhole", "reset")
PROXY_FAULTS = ("blackhole", "reset")

# Every message of every route, decided from the search summary alone: it never
# reads get-message-info (whose smartTags would hide a second apply).
CHAOS_RULE = """\
rules:
  - id: chaos-every-message
    description: Every message, decided from the search summary alone.
    priority: 1
    search:
      route: [inbound, outbound, internal]
    match:
      field: spam.score
      gte: 0
    tags: [Review/Needs triage]
"""

Pair = tuple[str, str]


@dataclass
class Trial:
    """What one fault did and what was found afterwards."""

    index: int
    fault: str
    node: str
    account: str
    applies_at_fault: int
    failover_s: float | None
    lease_kept: bool
    lease_lost_logged: bool | None
    duplicates: int
    missing: int
    in_doubt: int
    tagged_in_doubt: int
    resolved: int
    settle_s: float
    notes: list[str] = field(default_factory=list)


@dataclass
class Figures:
    """The figures of one harness run."""

    seed: int
    nodes: int
    accounts: int
    lease_s: float
    renew_s: float
    faults: tuple[str, ...]
    trials: list[Trial] = field(default_factory=list)
    expected: int = 0
    applied: int = 0
    seconds: float = 0.0

    @property
    def bound_s(self) -> float:
        """The documented failover bound: lease + renew + one round (a renew period)."""
        return self.lease_s + 2 * self.renew_s

    def failovers(self) -> list[float]:
        """Return the failover times measured (trials whose lease moved)."""
        return [t.failover_s for t in self.trials if t.failover_s is not None]

    def over_bound(self) -> int:
        """Return how many failovers took longer than the bound (or never happened when due)."""
        late = sum(1 for s in self.failovers() if s > self.bound_s)
        never = sum(
            1
            for t in self.trials
            if t.fault in ("kill", "stop", "blackhole") and t.failover_s is None
        )
        return late + never

    def ok(self) -> bool:
        """True when nothing was applied twice or lost, and every failover kept its bound."""
        last = self.trials[-1] if self.trials else None
        stops = [t for t in self.trials if t.fault == "stop"]
        return (
            last is not None
            and last.duplicates == 0
            and all(t.missing == 0 and t.tagged_in_doubt == 0 for t in self.trials)
            and self.over_bound() == 0
            and all(t.lease_lost_logged for t in stops)
        )

    def to_json(self) -> dict[str, Any]:
        """Return the figures as JSON-ready data (per-trial details included)."""
        fo = sorted(self.failovers())
        last = self.trials[-1] if self.trials else None
        return {
            "seed": self.seed,
            "nodes": self.nodes,
            "accounts": self.accounts,
            "lease_s": self.lease_s,
            "renew_s": self.renew_s,
            "bound_s": self.bound_s,
            "trials": len(self.trials),
            "faults": {f: sum(1 for t in self.trials if t.fault == f) for f in self.faults},
            "duplicate_applies": 0 if last is None else last.duplicates,
            "missing": sum(t.missing for t in self.trials),
            "in_doubt": 0 if last is None else last.in_doubt,
            "resolved_by_read_back": sum(t.resolved for t in self.trials),
            "tagged_but_in_doubt": sum(t.tagged_in_doubt for t in self.trials),
            "failover_p50_s": round(statistics.median(fo), 2) if fo else None,
            "failover_max_s": round(max(fo), 2) if fo else None,
            "failovers": len(fo),
            "over_bound": self.over_bound(),
            "leases_kept": sum(1 for t in self.trials if t.lease_kept),
            "stops_lease_lost": sum(
                1 for t in self.trials if t.fault == "stop" and t.lease_lost_logged
            ),
            "stops": sum(1 for t in self.trials if t.fault == "stop"),
            "expected": self.expected,
            "applied": self.applied,
            "seconds": round(self.seconds, 1),
            "details": [asdict(t) for t in self.trials],
        }


class Node:
    """One ``tagger run`` node: its process (restarted after a kill) and its log so far."""

    def __init__(self, name: str, config: Path, dsn: str, proxy: Any) -> None:
        self.name = name
        self.config = config
        self.dsn = dsn
        self.proxy = proxy
        self.runs: list[Running] = []
        self._seen: list[int] = []

    @property
    def run(self) -> Running:
        """The current incarnation."""
        return self.runs[-1]

    def start(self) -> None:
        """Start a new incarnation of the node."""
        env = {"TAGGER_DSN": self.dsn, "TAGGER_NODE": self.name}
        self.runs.append(Running("run", "-c", str(self.config), env=env))
        self._seen.append(0)

    def alive(self) -> bool:
        """True while the current incarnation runs."""
        return bool(self.runs) and self.run.proc.poll() is None

    def new_events(self) -> list[dict[str, Any]]:
        """Return the JSON log records written since the last call (every incarnation)."""
        out: list[dict[str, Any]] = []
        for i, running in enumerate(self.runs):
            lines = running.err[self._seen[i] :]
            self._seen[i] += len(lines)
            for line in lines:
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    if isinstance(record, dict):
                        out.append(record)
        return out

    def stop(self) -> None:
        """Stop the current incarnation (SIGCONT first, in case it is stopped)."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.run.pid, signal.SIGCONT)
            with contextlib.suppress(Exception):
                self.run.stop(timeout=20)
        for i, running in enumerate(self.runs):
            log = self.config.parent / f"{self.name}.{i}.log"
            log.write_text(running.stderr, encoding="utf-8")

    def db_ports(self) -> set[int]:
        """Return the client ports PostgreSQL sees for this node's connections.

        Through a proxy, those are the proxy's own connections to the server
        for this node; without one, the node's sockets (from /proc).
        """
        if self.proxy is None:
            return client_ports(self.run.pid)
        ports: set[int] = set()
        for link in list(getattr(self.proxy, "_links", ())):
            upstream = getattr(link, "upstream", None)
            if upstream is not None:
                with contextlib.suppress(OSError):
                    ports.add(int(upstream.getsockname()[1]))
        return ports


class Ledger:
    """The harness's own view of the cluster's tables (a direct connection, no proxy)."""

    def __init__(self, dsn: str) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True, connect_timeout=10)

    def leases(self) -> dict[str, tuple[str | None, int]]:
        """Return each account's (holding node or None, epoch), by the database's clock."""
        rows = self.conn.execute(
            "SELECT account, CASE WHEN expires_at > (extract(epoch from clock_timestamp())"
            " * 1000000)::bigint THEN owner END, epoch FROM leases"
        ).fetchall()
        return {str(a): (None if o is None else str(o).split("#")[0], int(e)) for a, o, e in rows}

    def in_doubt(self) -> set[tuple[str, str, str]]:
        """Return the claims in doubt as (account, message, tag)."""
        return {
            (c.account, c.message_id, c.tag_id) for c in claims.in_doubt(self.conn, limit=10**6)
        }

    def sessions(self) -> str:
        """Return what the database's sessions are doing, in one line (for a failed trial)."""
        rows = self.conn.execute(
            "SELECT coalesce(state, '-'), coalesce(wait_event_type, '-'), count(*)"
            " FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
        return "sessions: " + ", ".join(f"{n} {s} (waiting {w})" for s, w, n in rows)

    def terminate(self, ports: set[int]) -> int:
        """Terminate every backend whose client port is in ``ports``; returns how many."""
        if not ports:
            return 0
        rows = self.conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE client_port = ANY(%s)",
            [sorted(ports)],
        ).fetchall()
        return sum(1 for (done,) in rows if done)

    def close(self) -> None:
        """Close the connection."""
        with contextlib.suppress(Exception):
            self.conn.close()


def client_ports(pid: int) -> set[int]:
    """Return the local TCP ports of the sockets process ``pid`` holds (from /proc)."""
    inodes: set[str] = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    ports: set[int] = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/net/{table}", encoding="ascii") as fh:
            for line in fh.readlines()[1:]:
                parts = line.split()
                if len(parts) > 9 and parts[9] in inodes:
                    ports.add(int(parts[1].rsplit(":", 1)[1], 16))
    return ports


def poll(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> float | None:
    """Poll ``condition`` until it holds; return the seconds it took, None after ``timeout``."""
    start = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            return None
        time.sleep(interval)


def write_config(
    work: Path, farm: Farm, lease_s: float, renew_s: float, interval_s: float, concurrency: int
) -> Path:
    """Write the nodes' one shared config into ``work``; returns its path."""
    rule = work / "chaos-rule.yaml"
    rule.write_text(CHAOS_RULE, encoding="utf-8")
    data: dict[str, Any] = {
        "accounts": [a.account_yaml(concurrency) for a in farm.accounts],
        "rules": [str(rule)],
        "state_path": str(work / "state.db"),
        "state": {"backend": "postgresql", "dsn": {"env": "TAGGER_DSN"}},
        "cluster": {"lease": f"{lease_s:g}s", "renew": f"{renew_s:g}s"},
        "schedule": {
            "interval": f"{interval_s:g}s",
            "jitter": "0s",
            "misfire_grace": "1m",
            "max_cycle": "1m",
        },
        "window": {
            "overlap": "10m",
            "ingestion_delay": "0s",
            "initial_lookback": "24h",
            "max_catchup": "7d",
            "split_min": "1s",
            "search_cap": 500,
        },
        "max_failures": 5,
        "audit": {"path": str(work / "audit.jsonl")},
        "logging": {"format": "json", "level": "info"},
        "rollout": "enforce",
    }
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return path


class Harness:
    """The running cluster and the faults it is put through (see module docstring)."""

    def __init__(
        self,
        farm: Farm,
        ledger: Ledger,
        nodes: list[Node],
        figures: Figures,
        rng: random.Random,
        per_trial: int,
        settle_s: float,
        log: Callable[[str], None],
    ) -> None:
        self.farm = farm
        self.ledger = ledger
        self.nodes = {n.name: n for n in nodes}
        self.figures = figures
        self.rng = rng
        self.per_trial = per_trial
        self.settle_s = settle_s
        self.log = log
        self.lease_s = figures.lease_s
        self.renew_s = figures.renew_s
        self.seen_twice: set[tuple[str, str, str]] = set()

    def wait_ready(self) -> None:
        """Wait until every account is held by a live node (the cluster has formed)."""

        def formed() -> bool:
            if not all(n.alive() for n in self.nodes.values()):
                raise RuntimeError("a node exited: " + self._node_tails())
            try:
                held = self.ledger.leases()
            except psycopg.errors.UndefinedTable:
                return False  # no node has created the cluster's tables yet
            return bool(held) and all(owner is not None for owner, _ in held.values())

        if poll(formed, 120, 0.2) is None:
            raise RuntimeError("the cluster did not form: " + self._node_tails())

    def trial(self, index: int, fault: str) -> Trial:
        """Inject ``fault`` while applies are in flight, recover, settle and check."""
        for node in self.nodes.values():
            node.new_events()  # only this trial's log lines count below
        before = sum(self.farm.counts().values())
        self.farm.add(self.per_trial)
        target = before + self.rng.randint(1, max(1, self.per_trial * len(self.farm.accounts) // 2))
        if poll(lambda: sum(self.farm.counts().values()) >= target, 90, 0.05) is None:
            raise RuntimeError(f"no applies within 90 s (want {target}): " + self._node_tails())
        account, node = self._in_flight()
        held = self.ledger.leases()
        epoch = held[account][1]
        applies = sum(self.farm.counts().values())
        trial = Trial(
            index, fault, node.name, account, applies, None, False, None, 0, 0, 0, 0, 0, 0
        )
        getattr(self, f"_fault_{fault}")(node, account, epoch, trial)
        self._settle(trial)
        return trial

    def _in_flight(self) -> tuple[str, Node]:
        """Return an account whose apply count is moving now, and the node holding it."""
        first = self.farm.counts()
        for _ in range(40):
            time.sleep(0.05)
            now = self.farm.counts()
            moving = sorted(a for a, n in now.items() if n > first.get(a, 0))
            held = self.ledger.leases()
            candidates = [a for a in moving if held.get(a, (None, 0))[0] in self.nodes]
            if candidates:
                account = self.rng.choice(candidates)
                owner = held[account][0]
                assert owner is not None
                return account, self.nodes[owner]
        held = self.ledger.leases()
        account = self.rng.choice(sorted(a for a, (o, _) in held.items() if o is not None))
        owner = held[account][0]
        assert owner is not None
        return account, self.nodes[owner]

    def _taken(self, account: str, epoch: int, victim: str) -> Callable[[], bool]:
        """Return a check: ``account``'s lease is held by another node at a later epoch."""

        def check() -> bool:
            owner, now = self.ledger.leases()[account]
            return now > epoch and owner is not None and owner != victim

        return check

    def _failover(self, account: str, epoch: int, victim: str, t0: float, trial: Trial) -> None:
        """Wait (bounded) for another node to take ``account``; record the time from ``t0``."""
        if poll(self._taken(account, epoch, victim), self.figures.bound_s * 4, 0.05) is not None:
            trial.failover_s = round(time.monotonic() - t0, 3)
        else:
            trial.notes.append("no other node took the account; " + self.ledger.sessions())

    def _fault_kill(self, node: Node, account: str, epoch: int, trial: Trial) -> None:
        node.run.proc.send_signal(signal.SIGKILL)
        t0 = time.monotonic()
        node.run.wait(timeout=30)
        self._failover(account, epoch, node.name, t0, trial)
        node.start()

    def _fault_stop(self, node: Node, account: str, epoch: int, trial: Trial) -> None:
        os.kill(node.run.pid, signal.SIGSTOP)
        t0 = time.monotonic()
        try:
            self._failover(account, epoch, node.name, t0, trial)
            past = t0 + self.lease_s + self.renew_s - time.monotonic()
            if past > 0:
                time.sleep(past)  # the stopped node's lease is past whatever happened meanwhile
        finally:
            os.kill(node.run.pid, signal.SIGCONT)
        seen: list[dict[str, Any]] = []

        def dropped() -> bool:
            seen.extend(node.new_events())
            return any(e.get("event") == "lease_lost" and e.get("account") == account for e in seen)

        trial.lease_lost_logged = poll(dropped, self.renew_s * 4 + 10, 0.1) is not None
        if not trial.lease_lost_logged:
            trial.notes.append("no lease_lost for the account after SIGCONT")

    def _fault_terminate(self, node: Node, account: str, epoch: int, trial: Trial) -> None:
        ports = node.db_ports()
        t0 = time.monotonic()
        ended = self.ledger.terminate(ports)
        trial.notes.append(f"{ended} backends terminated")
        self._kept_or_moved(node, account, epoch, t0, trial)

    def _fault_blackhole(self, node: Node, account: str, epoch: int, trial: Trial) -> None:
        node.proxy.set_mode("blackhole")
        t0 = time.monotonic()
        try:
            self._failover(account, epoch, node.name, t0, trial)
        finally:
            node.proxy.set_mode("pass")

    def _fault_reset(self, node: Node, account: str, epoch: int, trial: Trial) -> None:
        node.proxy.set_mode("reset")
        t0 = time.monotonic()
        time.sleep(self.renew_s * 2)
        node.proxy.set_mode("pass")
        self._kept_or_moved(node, account, epoch, t0, trial)

    def _kept_or_moved(self, node: Node, account: str, epoch: int, t0: float, trial: Trial) -> None:
        """After a cut the node may recover: record a failover, or that it kept the lease."""
        if poll(self._taken(account, epoch, node.name), self.figures.bound_s, 0.05) is not None:
            trial.failover_s = round(time.monotonic() - t0, 3)
        else:
            trial.lease_kept = self.ledger.leases()[account] == (node.name, epoch)

    def _settle(self, trial: Trial) -> None:
        """Wait until every expected pair is applied or in doubt, then count (module docstring)."""
        start = time.monotonic()
        state: dict[str, Any] = {}

        def settled() -> bool:
            if not all(n.alive() for n in self.nodes.values()):
                raise RuntimeError("a node exited: " + self._node_tails())
            expected = self.farm.expected()
            applied = self.farm.applied()
            doubt = self.ledger.in_doubt()
            missing = {
                (a, m, t)
                for a, pairs in expected.items()
                for m, t in pairs
                if (m, t) not in applied.get(a, {}) and (a, m, t) not in doubt
            }
            tagged = {(a, m, t) for a, m, t in doubt if (m, t) in applied.get(a, {})}
            state.update(
                expected=expected, applied=applied, doubt=doubt, missing=missing, tagged=tagged
            )
            return not missing and not tagged

        poll(settled, self.settle_s, 0.5)
        trial.settle_s = round(time.monotonic() - start, 2)
        applied: dict[str, dict[Pair, int]] = state["applied"]
        trial.duplicates = sum(n - 1 for calls in applied.values() for n in calls.values() if n > 1)
        twice = sorted(
            (a, m, t) for a, calls in applied.items() for (m, t), n in calls.items() if n > 1
        )
        new = [p for p in twice if p not in self.seen_twice]
        self.seen_twice.update(new)
        if new:
            trial.notes.append(f"applied twice: {new[:5]}")
        trial.missing = len(state["missing"])
        trial.in_doubt = len(state["doubt"])
        trial.tagged_in_doubt = len(state["tagged"])
        trial.resolved = sum(
            1
            for n in self.nodes.values()
            for e in n.new_events()
            if e.get("event") == "claim_resolved"
        )
        self.figures.expected = sum(len(p) for p in state["expected"].values())
        self.figures.applied = sum(len(c) for c in applied.values())

    def _node_tails(self) -> str:
        return "\n".join(f"--- node {n.name}:\n{n.run.stderr[-1500:]}" for n in self.nodes.values())


def describe(trial: Trial) -> str:
    """Return one line about a trial."""
    failover = "-" if trial.failover_s is None else f"{trial.failover_s:.2f}s"
    extra = ""
    if trial.fault == "stop":
        extra = f"  lease_lost {'yes' if trial.lease_lost_logged else 'NO'}"
    if trial.lease_kept:
        extra += "  lease kept"
    return (
        f"trial {trial.index:3d} {trial.fault:<9} node {trial.node} account {trial.account}"
        f"  failover {failover}{extra}  duplicates {trial.duplicates}  missing {trial.missing}"
        f"  in doubt {trial.in_doubt} (tagged {trial.tagged_in_doubt}, resolved {trial.resolved})"
        f"  settled {trial.settle_s:.1f}s"
        + (f"  [{'; '.join(trial.notes)}]" if trial.notes else "")
    )


@contextlib.contextmanager
def _workdir(path: Path | None) -> Iterator[str]:
    """Yield ``path`` (kept afterwards), or a temporary directory removed afterwards."""
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield str(path)
        return
    with tempfile.TemporaryDirectory(prefix="tagger-chaos-") as tmp:
        yield tmp


@contextlib.contextmanager
def postgres(dsn: str | None) -> Iterator[str]:
    """Yield ``dsn``, or a fresh database on a throwaway server started (and stopped) here."""
    if dsn is not None:
        yield dsn
        return
    server = PgServer.start()
    try:
        yield server.database("chaos")
    finally:
        server.stop()


def run(
    trials: int,
    *,
    nodes: int = 3,
    accounts: int = 9,
    seed: int = 1,
    messages: int = 40,
    per_trial: int = 8,
    lease_s: float = 4.0,
    renew_s: float = 1.0,
    interval_s: float = 2.0,
    latency_ms: float = 30.0,
    settle_s: float = 90.0,
    faults: tuple[str, ...] | None = None,
    dsn: str | None = None,
    workdir: Path | None = None,
    log: Callable[[str], None] = lambda _line: None,
) -> Figures:
    """Run the harness (see module docstring); returns its figures.

    ``dsn`` names an empty database to use (default: a throwaway server).
    ``faults`` is the rotation (default every fault, the proxy ones only
    when :mod:`testkit.faultproxy` is available).
    """
    rotation = faults or tuple(f for f in FAULTS if FaultProxy is not None or f not in PROXY_FAULTS)
    if FaultProxy is None and any(f in PROXY_FAULTS for f in rotation):
        raise RuntimeError("the proxy faults need testkit.faultproxy, which this checkout lacks")
    started = time.monotonic()
    rng = random.Random(seed)
    figures = Figures(seed, nodes, accounts, lease_s, renew_s, rotation)
    with (
        _workdir(workdir) as tmp,
        postgres(dsn) as database,
        contextlib.ExitStack() as stack,
    ):
        work = Path(tmp)
        rule = work / "chaos-rule.yaml"
        rule.write_text(CHAOS_RULE, encoding="utf-8")
        farm = stack.enter_context(
            sim_farm(
                accounts,
                messages=messages,
                start=time.time(),
                rules=[rule],
                seed=seed,
                latency_ms=latency_ms,
            )
        )
        config = write_config(work, farm, lease_s, renew_s, interval_s, concurrency=4)
        ledger = Ledger(database)
        stack.callback(ledger.close)
        members: list[Node] = []
        target = conninfo_to_dict(database)
        for i in range(nodes):
            proxy = None
            node_dsn = database
            if FaultProxy is not None:
                proxy = stack.enter_context(
                    FaultProxy(str(target["host"]), int(str(target["port"])))
                )
                node_dsn = make_conninfo(database, host="127.0.0.1", port=str(proxy.port))
            node = Node(f"node-{chr(ord('a') + i)}", config, node_dsn, proxy)
            members.append(node)
        for node in members:
            stack.callback(node.stop)
            node.start()
        harness = Harness(farm, ledger, members, figures, rng, per_trial, settle_s, log)
        harness.wait_ready()
        log(
            f"cluster formed: {nodes} nodes, {accounts} accounts,"
            f" lease {lease_s:g}s renew {renew_s:g}s"
        )
        for index in range(trials):
            trial = harness.trial(index, rotation[index % len(rotation)])
            figures.trials.append(trial)
            log(describe(trial))
    figures.seconds = time.monotonic() - started
    return figures


def report(figures: Figures) -> str:
    """Return the human summary of a harness run."""
    data = figures.to_json()
    fo = (
        "-"
        if data["failover_p50_s"] is None
        else f"{data['failover_p50_s']}/{data['failover_max_s']} s"
    )
    faults = ", ".join(f"{n} {f}" for f, n in data["faults"].items())
    return "\n".join(
        [
            f"{data['trials']} trials ({faults}) on {data['nodes']} nodes,"
            f" {data['accounts']} accounts, lease {data['lease_s']:g} s"
            f" renew {data['renew_s']:g} s:",
            f"  {data['duplicate_applies']} duplicate applies, {data['missing']} missing,"
            f" {data['in_doubt']} in doubt ({data['resolved_by_read_back']} resolved by read-back,"
            f" {data['tagged_but_in_doubt']} tagged but left in doubt)",
            f"  failover p50/max {fo} over {data['failovers']} takeovers"
            f" (bound {data['bound_s']:g} s: {data['over_bound']} over);"
            f" {data['leases_kept']} connection cuts kept the lease",
            f"  SIGSTOP past the lease: {data['stops_lease_lost']}/{data['stops']}"
            " nodes logged lease_lost",
            f"  {data['applied']} pairs applied of {data['expected']} expected;"
            f" time {data['seconds']} s",
        ]
        + ([] if FaultProxy is not None else ["  (proxy faults left out: no testkit.faultproxy)"])
    )


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the harness, print the figures; 0 when every invariant held."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=50, help="faults injected (default 50)")
    parser.add_argument("--nodes", type=int, default=3, help="tagger nodes (default 3)")
    parser.add_argument("--accounts", type=int, default=9, help="simulated accounts (default 9)")
    parser.add_argument("--seed", type=int, default=1, help="RNG seed (default 1)")
    parser.add_argument("--messages", type=int, default=40, help="initial mailbox per account")
    parser.add_argument(
        "--per-trial", type=int, default=8, help="new messages per account per trial"
    )
    parser.add_argument("--lease", type=float, default=4.0, help="cluster lease, s (default 4)")
    parser.add_argument("--renew", type=float, default=1.0, help="cluster renew, s (default 1)")
    parser.add_argument("--latency-ms", type=float, default=30.0, help="simulated API latency")
    parser.add_argument(
        "--faults", default="", help=f"comma-separated rotation ({','.join(FAULTS)})"
    )
    parser.add_argument("--workdir", type=Path, help="keep the config, audit and node logs here")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    parser.add_argument("--quiet", action="store_true", help="no per-trial lines")
    args = parser.parse_args(argv)
    if args.trials < 1 or args.nodes < 2:
        parser.error("--trials must be at least 1 and --nodes at least 2")
    if args.lease != int(args.lease) or args.renew != int(args.renew) or args.renew < 1:
        parser.error("--lease and --renew are whole seconds (the config's durations are)")
    faults = tuple(f for f in args.faults.split(",") if f) or None
    if faults and not set(faults) <= set(FAULTS):
        parser.error(f"--faults: choose among {', '.join(FAULTS)}")

    def log(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    figures = run(
        args.trials,
        nodes=args.nodes,
        accounts=args.accounts,
        seed=args.seed,
        messages=args.messages,
        per_trial=args.per_trial,
        lease_s=args.lease,
        renew_s=args.renew,
        latency_ms=args.latency_ms,
        faults=faults,
        workdir=args.workdir,
        log=log,
    )
    print(json.dumps(figures.to_json()) if args.json else report(figures), flush=True)
    return 0 if figures.ok() else 1


if __name__ == "__main__":
    raise SystemExit(main())
