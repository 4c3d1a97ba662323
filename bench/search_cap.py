"""Completeness whatever the search cap: the default config against servers capping differently.

    python -m bench.search_cap [--caps 40,100,500,1000,0] [--modes oldest,newest,random]
        [--messages 2500] [--seed 3]

Message-finder search silently truncates its answers at an undocumented cap.
For each server cap (0: none) and each way of choosing the results it keeps
(the oldest, the newest, an arbitrary seeded subset), a simulator with the
same mailbox serves one live cycle of tagger with the default configuration
(``window.search_cap`` 500, no prior knowledge), then, as a reference, one
cycle on a fresh simulator where the cap is known in advance. Prints per case:
messages found vs present in the cycle's windows, tags missed (expected pairs
not applied), search calls, and the extra calls over the known-cap run. Then
the cost on a server without a cap over a daemon's normal run: a first cycle
followed by ``--cycles`` scheduled cycles as new mail arrives, and a restart.

The simulator runs in this process (threads); tagger runs through its real
composition root with a real SQLite state. The script also runs against an
older tagger (``PYTHONPATH=/old/tree:. python -P -m bench.search_cap`` from this
checkout: ``-P`` keeps the checkout's own tagger off the front of the path): without a
learned cap it measures "known" as ``window.search_cap`` set to the real cap,
and it picks the kept results itself when that simulator has no cap modes.

Exits 1 when a message or tag is missed, or when the extra calls on a server
without a cap exceed 10% of the normal run's search calls (``--no-targets``
reports that target without failing on it).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.benchlib import expected_pairs, quiet_logging, write_config
from tagger.config import Config
from tagger.engine.options import cycle_options
from tagger.engine.run import run_cycle
from tagger.engine.tally import CycleReport
from tagger.service.runtime import load_ruleset, open_runtime, open_state
from tagger.simulator import Simulator, SimulatorConfig
from tagger.simulator import mailbox as sim_mailbox
from tagger.simulator.search import matches, parse_query

try:  # absent from taggers that predate learning the cap
    from tagger.state.rows import SearchCapRow
except ImportError:  # pragma: no cover - older tree
    SearchCapRow = None  # type: ignore[assignment,misc]

START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
UNCAPPED = 0
GENEROUS = {"search": (10**7, 60.0), "info": (10**7, 60.0), "apply": (10**7, 60.0)}
HAS_MODES = "search_cap_mode" in {f.name for f in dataclasses.fields(SimulatorConfig)}


@dataclasses.dataclass
class Case:
    """The figures of one server (cap, mode): tagger's run and the known-cap run."""

    cap: int
    mode: str
    present: int
    found: int
    missed_tags: int
    extra_tags: int
    calls: int
    known_calls: int
    saturated: int

    @property
    def ok(self) -> bool:
        """True when nothing was missed and nothing extra applied."""
        return self.found == self.present and self.missed_tags == 0 and self.extra_tags == 0


class Clock:
    """The simulator's and tagger's shared clock, moved by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def epoch(self) -> float:
        return self.now.timestamp()


def _keep(found: tuple[Any, ...], cap: int, mode: str, key: str) -> tuple[Any, ...]:
    """Pick what a capped answer keeps (only for simulators without cap modes)."""
    if cap <= 0 or len(found) <= cap:
        return found
    if mode == "newest":
        return found[-cap:]
    if mode == "random":
        rng = random.Random(f"bench:{key}")
        return tuple(found[i] for i in sorted(rng.sample(range(len(found)), cap)))
    return found[:cap]


@contextmanager
def simulator(cap: int, mode: str, messages: int, seed: int, clock: Clock) -> Iterator[Simulator]:
    """Serve a simulator capping at ``cap`` (0: none) keeping the ``mode`` results."""
    options: dict[str, Any] = {
        "seed": seed,
        "messages": messages,
        "history_hours": 6.0,
        "start_time": START,
        "rate_limits": GENEROUS,
    }
    restore = None
    if HAS_MODES:
        options.update(search_cap=cap, search_cap_mode=mode)
    else:
        # An older simulator: answer in full, and cap here.
        options.update(search_cap=10**9)
        original = sim_mailbox.Mailbox.search

        def capped(self: Any, q: Any, now: float, _cap: int) -> Any:
            full = original(self, q, now, 10**9)
            kept = _keep(full.messages, cap, mode, repr(q))
            return sim_mailbox.SearchResult(kept, len(kept) < len(full.messages))

        sim_mailbox.Mailbox.search = capped  # type: ignore[method-assign]
        restore = original
    try:
        with Simulator(SimulatorConfig(**options), clock=clock.epoch) as sim:
            yield sim
    finally:
        if restore is not None:
            sim_mailbox.Mailbox.search = restore  # type: ignore[method-assign]


def present_ids(sim: Simulator, config: Config, report: CycleReport) -> set[str]:
    """Return the ids of the messages the cycle's queries should have found in its windows."""
    out: set[str] = set()
    for query in load_ruleset(config).queries:
        window = report.windows.get(query.key)
        if window is None:
            continue
        item = query.criteria.to_request(window.start, window.end)
        q = parse_query(item)
        for m in sim.messages():
            if (q.start or 0) <= m.received <= (q.end or 0) and matches(q, m):
                out.add(m.id)
    return out


def seed_known(config: Config, cap: int) -> None:
    """Record in the state that the account's cap is ``cap`` (0: a server without one)."""
    if SearchCapRow is None:
        return
    with open_state(config, dry_run=False) as state:
        row = (
            SearchCapRow(cap, cap, 0, START)
            if cap
            else SearchCapRow(None, 10**9, 0, START)  # no answer will ever be in doubt
        )
        state.set_search_cap(config.accounts[0].name, row)


async def cycles(config: Config, clock: Clock, count: int, sim: Simulator | None) -> CycleReport:
    """Run ``count`` live cycles, 5 minutes apart (5 new messages before each later one)."""
    runtime = await open_runtime(config)
    report = None
    try:
        options = cycle_options(config)
        for n in range(count):
            if n:
                clock.now += timedelta(minutes=5)
                if sim is not None:
                    sim.add_messages(5)
            with open_state(config, dry_run=False) as state:
                [report] = await run_cycle(runtime, state, options, clock, kind="once")
            if report.errors:
                raise SystemExit(f"cycle failed: {report.errors}")
    finally:
        await runtime.close()
    assert report is not None
    return report


def config_for(tmp: Path, sim: Simulator, search_cap: int = 500) -> Config:
    """Return tagger's default window configuration for ``sim`` (``search_cap`` as given)."""
    config = write_config(tmp, sim.url, concurrency=8)
    window = dataclasses.replace(config.window, search_cap=search_cap)
    return dataclasses.replace(config, window=window)


def run_case(cap: int, mode: str, messages: int, seed: int) -> Case:
    """Run tagger (default config) and the known-cap reference against one server."""
    clock = Clock(START)
    with tempfile.TemporaryDirectory() as tmp, simulator(cap, mode, messages, seed, clock) as sim:
        config = config_for(Path(tmp), sim)
        report = asyncio.run(cycles(config, clock, 1, None))
        calls = sim.stats()["endpoints"]["search"]["total"]
        present = present_ids(sim, config, report)
        expected = expected_pairs(sim, load_ruleset(config))
        applied = set(sim.applied())
    clock = Clock(START)
    with tempfile.TemporaryDirectory() as tmp, simulator(cap, mode, messages, seed, clock) as sim:
        known_cap = cap or 10**9
        config = config_for(Path(tmp), sim, search_cap=500 if SearchCapRow else known_cap)
        seed_known(config, cap)
        asyncio.run(cycles(config, clock, 1, None))
        known_calls = sim.stats()["endpoints"]["search"]["total"]
    return Case(
        cap,
        mode,
        present=len(present),
        found=report.messages_found,
        missed_tags=len(expected - applied),
        extra_tags=len(applied - expected),
        calls=calls,
        known_calls=known_calls,
        saturated=int(getattr(report, "saturated", 0)),
    )


def normal_run(messages: int, seed: int, count: int, known: bool) -> int:
    """Return the search calls of a daemon's normal run on a server without a cap.

    A first cycle, ``count`` later ones as mail arrives, then a restart (a new
    runtime on the same state) and ``count`` more. ``known``: the state says
    up front that no answer is ever truncated.
    """
    clock = Clock(START)
    with (
        tempfile.TemporaryDirectory() as tmp,
        simulator(UNCAPPED, "oldest", messages, seed, clock) as sim,
    ):
        # An older tagger knows the cap only from its configuration.
        config = config_for(Path(tmp), sim, search_cap=10**9 if known and not SearchCapRow else 500)
        if known:
            seed_known(config, UNCAPPED)
        asyncio.run(cycles(config, clock, 1 + count, sim))
        asyncio.run(cycles(config, clock, count, sim))
        return int(sim.stats()["endpoints"]["search"]["total"])


def main() -> int:
    """Run every case, print the figures; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--caps", default="40,100,500,1000,0", help="server caps (0: none)")
    parser.add_argument("--modes", default="oldest,newest,random", help="results kept")
    parser.add_argument("--messages", type=int, default=2500, help="mailbox size (6 hours)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--cycles", type=int, default=12, help="scheduled cycles per run half")
    parser.add_argument("--no-targets", action="store_true", help="report the cost target only")
    args = parser.parse_args()
    quiet_logging()
    caps = [int(c) for c in args.caps.split(",")]
    modes = args.modes.split(",")
    tree = "learns the cap" if SearchCapRow is not None else "configured cap only (older tagger)"
    print(f"tagger: {tree}; window.search_cap 500; {args.messages} messages over 6 h")
    print(
        f"{'cap':>6} {'mode':>7} {'found/present':>14} {'tags missed':>11} {'search calls':>12}"
        f" {'known-cap calls':>15} {'extra':>7} {'saturated':>9}"
    )
    failed = []
    for cap in caps:
        for mode in modes if cap else ["-"]:
            case = run_case(cap, mode if cap else "oldest", args.messages, args.seed)
            extra = case.calls - case.known_calls
            pct = 100.0 * extra / case.known_calls if case.known_calls else 0.0
            label = str(cap) if cap else "none"
            print(
                f"{label:>6} {mode:>7} {f'{case.found}/{case.present}':>14}"
                f" {case.missed_tags:>11} {case.calls:>12} {case.known_calls:>15}"
                f" {f'{pct:+.0f}%':>7} {case.saturated:>9}" + ("" if case.ok else "  MISSED")
            )
            if not case.ok:
                failed.append(f"cap {label} {mode}")
    plain = normal_run(300, args.seed, args.cycles, known=True)
    learning = normal_run(300, args.seed, args.cycles, known=False)
    extra = 100.0 * (learning - plain) / plain
    runs = 2 + 2 * args.cycles
    print(
        f"no cap, normal run ({runs} cycles incl. a restart, 300 messages + 5 per cycle):"
        f" {learning} search calls vs {plain} when known, extra {extra:.1f}%"
        f" (target < 10%: {'met' if extra < 10 else 'MISSED'})"
    )
    print(f"completeness: {'ok' if not failed else 'FAILED: ' + ', '.join(failed)}")
    if failed or (extra >= 10 and not args.no_targets):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
