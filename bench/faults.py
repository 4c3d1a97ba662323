"""Faults and load: the live daemon against a misbehaving simulator loses and repeats nothing.

Two scenarios, each running ``tagger run`` as a real process against the
simulator in this process, until every expected (message, tag) pair is
applied (or a deadline passes), then comparing the simulator's tags with the
set the rule evaluator computes from the mailbox alone:

``soak``
    10% of requests answer 500/503, 5% drop the connection, 1% answer a
    truncated JSON body (after executing the call), latency jitters between
    a few and ~40 ms, and a background thread forces bursts of 429s on random
    endpoints (``Simulator.throttle``). Prints calls made, client retries,
    429s, time to completion, missing/extra tags and duplicate apply calls.
    A truncated answer to an apply that was executed is retried (the client
    cannot tell it from a proxy's error page): each such retry is a repeated
    apply call, which Mimecast treats as success. They are counted and must
    not exceed the truncated answers injected.

``late``
    2,000 messages received within 15 minutes (over 100 a minute) plus bursts
    of 60 messages a second while the daemon runs, a search cap of 100, and
    10% of messages indexed for search only seconds after they were received
    (search quota raised to 1,200 a minute: each cycle re-splits the overlap).
    Every expected tag must be applied; prints searches, window splits,
    late-indexed messages and time.

    .venv/bin/python -m bench.faults            # both scenarios
    .venv/bin/python -m bench.faults soak --messages 3000
"""

from __future__ import annotations

import argparse
import json

from testkit.faults import Result, late, soak


def describe(result: Result) -> str:
    """Return the human summary of one scenario."""
    f = result.figures
    head = (
        f"{result.scenario}: {'completed' if result.completed else 'DID NOT COMPLETE'} in"
        f" {result.seconds:.1f} s; {result.expected} expected tags over {result.messages}"
        f" messages, {result.missing} missing, {result.extra} extra,"
        f" {result.duplicate_calls} duplicate apply calls, {result.set_aside} set aside,"
        f" exit code {result.exit_code}"
    )
    if result.scenario == "soak":
        detail = (
            f"  calls {f['calls']}, retries {f['retries']}, 429s {f['throttled_429']}"
            f" ({f['throttle_bursts']} bursts), injected {f['faults']},"
            f" duplicate calls allowed (truncated answers) {f['duplicates_allowed']}"
        )
    else:
        detail = (
            f"  searches {f['searches']}, window splits {f['window_splits']}, saturated"
            f" windows {f['saturated_windows']}, late-indexed messages {f['late_messages']}"
            f" ({f['late_pairs_applied']}/{f['late_expected_pairs']} of their tags applied),"
            f" cycles {f['cycles']}"
        )
    return head + "\n" + detail


def main(argv: list[str] | None = None) -> int:
    """Run the chosen scenarios and print their figures; 0 when all of them passed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", nargs="?", choices=["soak", "late", "all"], default="all")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--messages", type=int, help="mailbox size (soak 5000, late 2000)")
    parser.add_argument("--deadline", type=float, default=180.0, help="seconds per scenario")
    parser.add_argument("--json", action="store_true", help="one JSON line per scenario")
    args = parser.parse_args(argv)
    chosen = ["soak", "late"] if args.scenario == "all" else [args.scenario]
    ok = True
    for name in chosen:
        if name == "soak":
            result = soak(args.seed, args.messages or 5000, args.deadline)
        else:
            result = late(args.seed, args.messages or 2000, args.deadline)
        print(json.dumps(result.to_json()) if args.json else describe(result), flush=True)
        ok = ok and result.ok()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
