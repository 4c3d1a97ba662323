"""End-to-end throughput and API economy against the simulator, next to a hand-written baseline.

    python -m bench.e2e [--messages 2000] [--baseline-messages 300]

The simulator runs in a child process (``bench/simproc.py``) so that its
request handling does not share a CPU with tagger's event loop. Every call
takes ``--latency-ms`` (50) and the server serves at most
``--max-concurrency`` (16) calls at once, queueing the rest; rate limits are
out of reach. tagger runs in this process through its real composition root
(``open_runtime`` / ``run_cycle``, state in SQLite, JSON logs at level info
written to the null device) with the account's concurrency at 16, over the
shipped rules (``rules/*.yaml``).

Prints, in order:

1. tagger's first cycle: messages/s, API calls per message by endpoint, and
   the ratio to the bound the server allows. Every call holds one of the 16
   server slots for the latency, so at most 16 / 0.05 s = 320 calls/s; a
   cycle making C calls for M messages cannot take less than C / 320 s, so
   the bound is 320 / (C / M) messages/s, and the ratio is that least time
   over the time taken. (Connecting -- token, Smart Tag list -- happens once
   per daemon start and is not timed.) A calibration line gives the rate the
   same client reaches on nothing but get-message-info calls, for scale.
2. The baseline (``bench/baseline_sample.py``: one call at a time, as
   Mimecast's sample code does) on a fresh simulator with the same mailbox,
   and the speed-up. When ``--baseline-messages`` is below the number of
   messages, the baseline handles only that many (after its full search) and
   its time for all of them is extrapolated: search time plus time per
   message x messages.
3. API economy: a second cycle whose window reaches back over the whole first
   one makes no get-message-info call; a rule set testing only search-level
   fields (``bench/rules_search_only.yaml``, run without latency) makes none.

Both tagger and the baseline must apply exactly the expected (message, tag)
pairs, computed from the mailbox with the rule evaluator alone. Exits 1 when
a check fails or a target (ratio >= 0.8, >= 10x the baseline) is missed;
``--no-targets`` reports the targets without failing on them.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.baseline_sample import BaselineResult, run_baseline
from bench.benchlib import delta, expected_pairs, quiet_logging, write_config
from bench.simproc import SimHandle, child_simulator, sim_config
from tagger.config import Config
from tagger.engine.options import cycle_options
from tagger.engine.run import run_cycle
from tagger.engine.tally import CycleReport
from tagger.mimecast.client import MimecastClient
from tagger.mimecast.criteria import SearchCriteria
from tagger.service.runtime import load_ruleset, open_runtime, open_state
from tagger.simulator import Simulator
from tagger.simulator.config import APPLY_TAG, INFO, SEARCH

HERE = Path(__file__).resolve().parent
SEARCH_ONLY_RULES = HERE / "rules_search_only.yaml"
HISTORY_HOURS = 6.0  # the simulator spreads its mailbox over the last 6 hours
CALIBRATION_CALLS = 1600


@dataclasses.dataclass
class Run:
    """One timed cycle: its report, duration and the calls it made per endpoint."""

    report: CycleReport
    seconds: float
    calls: dict[str, int]

    def count(self, endpoint: str) -> int:
        """Return the calls made to ``endpoint`` (a simulator endpoint key)."""
        return self.calls.get(endpoint, 0)


def utc_now() -> datetime:
    """Return the current time (UTC)."""
    return datetime.now(UTC)


async def one_cycle(config: Config, overlap: timedelta | None) -> tuple[CycleReport, float]:
    """Run one live cycle of ``config`` (one account); returns its report and duration (s).

    ``overlap`` replaces the configured window overlap.
    """
    runtime = await open_runtime(config)
    try:
        options = cycle_options(config)
        if overlap is not None:
            policy = dataclasses.replace(options.policy, overlap=overlap)
            options = dataclasses.replace(options, policy=policy)
        with open_state(config, dry_run=False) as state:
            began = time.perf_counter()
            reports = await run_cycle(runtime, state, options, utc_now, kind="once")
            return reports[0], time.perf_counter() - began
    finally:
        await runtime.close()


def timed_cycle(sim: SimHandle, config: Config, overlap: timedelta | None = None) -> Run:
    """Run one cycle against ``sim``; raises SystemExit when the cycle reports a failure."""
    before = sim.calls()
    report, seconds = asyncio.run(one_cycle(config, overlap))
    if report.errors or report.failed:
        raise SystemExit(f"cycle failed: {report.errors} ({report.failed} messages failed)")
    return Run(report, seconds, delta(sim.calls(), before))


async def calibrate(config: Config, calls: int) -> float:
    """Return the get-message-info calls per second tagger's client reaches alone.

    The same client and concurrency as the cycle, fetching the info of the
    mailbox's messages over and over with nothing else to do.
    """
    async with MimecastClient(config.accounts[0].settings) as client:
        end = utc_now()
        found = await client.search(SearchCriteria(), end - timedelta(days=1), end)
        ids = [e.id for e in found.emails] or ["none"]
        began = time.perf_counter()
        await asyncio.gather(*(client.get_message_info(ids[i % len(ids)]) for i in range(calls)))
        return calls / (time.perf_counter() - began)


class Checks:
    """Pass/fail bookkeeping for the printed checks and targets."""

    def __init__(self) -> None:
        self.failed: list[str] = []
        self.missed: list[str] = []

    def check(self, ok: bool, what: str) -> str:
        """Record a correctness check; returns "ok" or "FAILED"."""
        if not ok:
            self.failed.append(what)
        return "ok" if ok else "FAILED"

    def target(self, ok: bool, what: str) -> str:
        """Record a performance target; returns "met" or "MISSED"."""
        if not ok:
            self.missed.append(what)
        return "met" if ok else "MISSED"


def report_tagger(
    run: Run, ok: Checks, slots: int, latency: float, calibrated: float, pairs: str
) -> None:
    """Print part 1: throughput, calls per message, the bound and the ratio."""
    found = run.report.messages_found
    total = sum(run.count(k) for k in (SEARCH, INFO, APPLY_TAG))
    least = total * latency / slots
    ratio = least / run.seconds
    print(f"\n1. tagger, first cycle: {found} messages found by the rules' searches")
    print(f"   {run.seconds:.2f} s, {found / run.seconds:.0f} messages/s")
    for key, name in ((SEARCH, "search"), (INFO, "get-message-info"), (APPLY_TAG, "apply")):
        count = run.count(key)
        print(f"   {name:>16}: {count:5d} calls, {count / found:.3f} per message")
    print(f"   {'all':>16}: {total:5d} calls, {total / found:.3f} per message")
    print(
        f"   bound: {slots} slots / {latency:g} s = {slots / latency:.0f} calls/s, so "
        f"{total} calls take >= {least:.2f} s: <= {found / least:.0f} messages/s"
    )
    print(
        f"   ratio to the bound: {ratio:.2f} "
        f"(target >= 0.8: {ok.target(ratio >= 0.8, 'ratio to the bound >= 0.8')})"
    )
    if calibrated:
        print(
            f"   calibration: the same client doing nothing but get-message-info reaches "
            f"{calibrated:.0f} calls/s ({calibrated * latency / slots:.2f} of the bound)"
        )
    print(f"   tags applied vs expected: {pairs}")


def report_baseline(
    base: BaselineResult, found: int, tagger_s: float, ok: Checks, pairs: str
) -> None:
    """Print part 2: the baseline's rate, extrapolated when it ran on a subset."""
    per_message = base.process_s / max(1, base.messages)
    total_s = base.search_s + per_message * found
    speedup = total_s / tagger_s
    searches = base.calls.get("/api/message-finder/search", 0)
    print("\n2. baseline (bench/baseline_sample.py, one call at a time), same mailbox")
    scope = "all" if base.messages >= base.found else f"the oldest {base.messages}"
    print(
        f"   found {base.found} messages ({searches} searches, {base.search_s:.2f} s); "
        f"handled {scope}: {per_message * 1000:.0f} ms per message"
    )
    if base.messages < base.found:
        print(f"   extrapolated to {found} messages: {total_s:.1f} s")
    print(
        f"   {found / total_s:.1f} messages/s; tagger is {speedup:.1f}x faster "
        f"(target >= 10x: {ok.target(speedup >= 10, 'speed-up >= 10x')})"
    )
    print(f"   tags applied vs expected for the messages handled: {pairs}")


def compare(applied: set[tuple[str, str]], expected: set[tuple[str, str]], ok: Checks) -> str:
    """Return a one-line comparison of applied and expected pairs (recording the check)."""
    same = ok.check(applied == expected, "applied tags equal the expected ones")
    return f"{len(applied)} applied, {len(expected)} expected, identical: {same}"


def main() -> int:
    """Run the benchmark and print its figures; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000, help="mailbox size (max 100000)")
    parser.add_argument("--baseline-messages", type=int, default=300, help="baseline subset")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--max-concurrency", type=int, default=16, help="server and account")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--calibration-calls", type=int, default=CALIBRATION_CALLS, help="0: no calibration"
    )
    parser.add_argument("--no-targets", action="store_true", help="do not fail on targets")
    args = parser.parse_args()
    n = max(1, min(args.messages, 100_000))
    slots, latency = max(1, args.max_concurrency), args.latency_ms / 1000.0
    mailbox = {"messages": n, "start": float(int(time.time())), "seed": args.seed}
    served = {**mailbox, "latency_ms": args.latency_ms, "max_concurrency": slots}
    local = Simulator(sim_config(**mailbox))  # the same mailbox, not served: for expectations
    ok = Checks()
    sink = quiet_logging()
    print(
        f"python {sys.version.split()[0]}; simulator in a child process: {n} messages over "
        f"{HISTORY_HOURS:g} h, {args.latency_ms:g} ms per call, at most {slots} calls served "
        f"at once; tagger in this process, account concurrency {slots}"
    )
    with tempfile.TemporaryDirectory(prefix="tagger-bench-") as tmp_name:
        tmp = Path(tmp_name)
        for sub in ("tagger", "search-only"):
            (tmp / sub).mkdir()
        with child_simulator(**served) as sim:
            config = write_config(tmp / "tagger", sim.url, concurrency=slots)
            ruleset = load_ruleset(config)
            expected = expected_pairs(local, ruleset)
            first = timed_cycle(sim, config)
            applied = sim.applied()
            # A second cycle whose window reaches back over the whole first one.
            second = timed_cycle(sim, config, overlap=timedelta(hours=HISTORY_HOURS + 1))
            calls = max(0, args.calibration_calls)
            calibrated = asyncio.run(calibrate(config, calls)) if calls else 0.0
        report_tagger(first, ok, slots, latency, calibrated, compare(applied, expected, ok))

        with child_simulator(**served) as sim:
            end = utc_now().replace(microsecond=0)
            limit = max(1, args.baseline_messages)
            base = run_baseline(sim.url, ruleset, end - timedelta(days=2), end, limit)
            base_applied = sim.applied()
        handled = set(base.handled)
        base_pairs = compare(base_applied, {p for p in expected if p[0] in handled}, ok)
        report_baseline(base, first.report.messages_found, first.seconds, ok, base_pairs)

        with child_simulator(**mailbox) as sim:
            config = write_config(
                tmp / "search-only", sim.url, concurrency=slots, rules=[SEARCH_ONLY_RULES]
            )
            only = load_ruleset(config)
            only_expected = expected_pairs(local, only)
            search_only = timed_cycle(sim, config)
            only_applied = sim.applied()
    sink.close()

    found = first.report.messages_found
    print("\n3. API economy")
    print(
        f"   second cycle, window over the whole first one: {second.report.messages_found} "
        f"found, {second.report.already_processed} already processed; calls: "
        f"{second.count(SEARCH)} search, {second.count(INFO)} get-message-info, "
        f"{second.count(APPLY_TAG)} apply ({second.seconds:.2f} s): "
        + ok.check(
            second.count(INFO) == 0
            and second.count(APPLY_TAG) == 0
            and second.report.already_processed == found,
            "no info or apply calls on the second cycle",
        )
    )
    print(
        f"   search-level rules only ({len(only.rules)} rules in bench/rules_search_only.yaml, "
        f"no latency): {search_only.report.messages_found} messages, "
        f"{search_only.count(INFO)} get-message-info calls: "
        + ok.check(search_only.count(INFO) == 0, "no info calls for search-level rules")
        + f"; tags: {compare(only_applied, only_expected, ok)}"
    )
    if ok.failed or ok.missed:
        print(f"\nfailed: {ok.failed or 'none'}; targets missed: {ok.missed or 'none'}")
        return 1 if ok.failed or not args.no_targets else 0
    print("\nevery check passed and every target was met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
