"""Many simulated Mimecast accounts served from one child process, driven over a pipe.

A cluster benchmark needs many accounts, each with its own mailbox, its own
credentials and so its own quota, the way an MSP's tenants are. Running
them in a child process keeps their request handling off the CPU of the
processes being measured, as a real Mimecast would. Run directly, this
module serves ``--accounts K`` simulators (one port each), prints one JSON
line naming each account's URL and credentials, then answers one JSON
command per line on standard input until it closes:

- ``{"op": "add", "n": N}``: receive N new messages in every account;
- ``{"op": "expected"}``: the (message, tag) pairs a correct run applies,
  per account (the rule evaluator alone over the simulator's own truth,
  :func:`testkit.expected.expected_pairs`, with the rules given at start);
- ``{"op": "applied"}``: successful apply calls per (message, tag), per account;
- ``{"op": "counts"}``: successful apply calls so far, per account;
- ``{"op": "requests"}``: requests answered so far, per account;
- ``{"op": "stats"}``: each account's ``/_sim/stats`` counters (without the applies).

:func:`sim_farm` starts one and yields a :class:`Farm` that speaks this
protocol. Rate limits are the benchmarks' generous ones unless ``--apply-per-min``
gives each account a quota of its own on the apply endpoint.
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.simproc import first_line, sim_config
from tagger.rules import load_rules
from tagger.simulator import Credentials, Simulator
from tagger.simulator.config import APPLY_TAG
from testkit import ROOT
from testkit.expected import expected_pairs

__all__ = ["Farm", "FarmAccount", "account_credentials", "sim_farm"]

START_TIMEOUT_S = 120.0
# One answer (expected pairs over thousands of messages) may take this long.
ANSWER_TIMEOUT_S = 120.0

Pair = tuple[str, str]


def account_credentials(index: int) -> Credentials:
    """Return the (fake, bench-only) credentials of simulated account ``index``."""
    return Credentials(
        access_key=f"bench-access-{index}",
        secret_key=base64.b64encode(f"bench-hmac-key-{index}".encode()).decode("ascii"),
        app_id=f"bench-app-{index}",
        app_key=f"bench-app-key-{index}",
        client_id=f"bench-client-{index}",
        client_secret=f"bench-secret-{index}",
    )


@dataclass(frozen=True)
class FarmAccount:
    """One simulated account: its name, URL and API 2.0 credentials (fake, bench-only)."""

    name: str
    url: str
    client_id: str
    client_secret: str

    def account_yaml(self, concurrency: int = 8) -> dict[str, Any]:
        """Return this account's entry for a tagger config."""
        return {
            "name": self.name,
            "api_version": "2.0",
            "base_url": self.url,
            "credentials": {"client_id": self.client_id, "client_secret": self.client_secret},
            "concurrency": concurrency,
            "timeout_s": 10,
            "retry": {"max_attempts": 6, "max_total_s": 30, "base_delay_s": 0.05, "max_delay_s": 1},
        }


class Farm:
    """A running farm child (see module docstring): its accounts, and its commands."""

    def __init__(self, proc: subprocess.Popen[str], accounts: list[FarmAccount]) -> None:
        self.proc = proc
        self.accounts = accounts
        self._lock = threading.Lock()

    def ask(self, op: str, **args: Any) -> Any:
        """Send one command and return its answer; RuntimeError when the child fails."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        with self._lock:
            self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
            self.proc.stdin.flush()
            line = first_line(self.proc, ANSWER_TIMEOUT_S)
        if not line:
            raise RuntimeError(f"simulator farm gave no answer to {op!r}")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"simulator farm: {answer['error']}")
        return answer["ok"]

    def add(self, n: int) -> None:
        """Receive ``n`` new messages in every account."""
        self.ask("add", n=n)

    def expected(self) -> dict[str, set[Pair]]:
        """Return the pairs a correct run applies, per account."""
        return {a: {(m, t) for m, t in pairs} for a, pairs in self.ask("expected").items()}

    def applied(self) -> dict[str, dict[Pair, int]]:
        """Return successful apply calls per pair, per account."""
        return {a: {(m, t): int(n) for m, t, n in rows} for a, rows in self.ask("applied").items()}

    def counts(self) -> dict[str, int]:
        """Return successful apply calls so far, per account."""
        return {a: int(n) for a, n in self.ask("counts").items()}

    def requests(self) -> int:
        """Return the requests answered so far, all accounts together."""
        return sum(int(n) for n in self.ask("requests").values())

    def stats(self) -> dict[str, dict[str, Any]]:
        """Return each account's counters."""
        data: dict[str, dict[str, Any]] = self.ask("stats")
        return data


@contextmanager
def sim_farm(
    accounts: int,
    *,
    messages: int,
    start: float,
    rules: Sequence[Path],
    seed: int = 1,
    latency_ms: float = 0.0,
    max_concurrency: int = 0,
    apply_per_min: int = 0,
) -> Iterator[Farm]:
    """Run this module as a child serving ``accounts`` simulators; yields the :class:`Farm`.

    Raises RuntimeError when the child does not start.
    """
    cmd = [sys.executable, "-m", "bench.simfarm", "--accounts", str(accounts)]
    cmd += ["--messages", str(messages), "--start", repr(start), "--seed", str(seed)]
    cmd += ["--latency-ms", str(latency_ms), "--max-concurrency", str(max_concurrency)]
    cmd += ["--apply-per-min", str(apply_per_min)]
    for rule in rules:
        cmd += ["--rules", str(rule)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        line = first_line(proc, START_TIMEOUT_S)
        if not line.startswith("{"):
            raise RuntimeError(f"simulator farm did not start: {line!r}")
        listed = json.loads(line)["accounts"]
        yield Farm(proc, [FarmAccount(**a) for a in listed])
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(timeout=15)


def _answer(sims: dict[str, Simulator], rules: list[Path], command: dict[str, Any]) -> Any:
    """Return the answer to one command (see module docstring)."""
    op = command.get("op")
    if op == "add":
        for sim in sims.values():
            sim.add_messages(int(command["n"]))
        return True
    if op == "expected":
        ruleset = load_rules(rules)
        return {a: sorted(expected_pairs(s, ruleset)) for a, s in sims.items()}
    if op == "applied":
        return {
            a: [[m, t, n] for (m, t), n in sorted(s.applied().items())] for a, s in sims.items()
        }
    if op == "counts":
        return {a: sum(s.applied().values()) for a, s in sims.items()}
    if op == "requests":
        return {a: s.stats()["requests"] for a, s in sims.items()}
    if op == "stats":
        return {a: {k: v for k, v in s.stats().items() if k != "applied"} for a, s in sims.items()}
    raise ValueError(f"unknown command {op!r}")


def main() -> int:
    """Serve the farm until standard input closes; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, required=True)
    parser.add_argument("--messages", type=int, required=True, help="initial mailbox per account")
    parser.add_argument("--start", type=float, required=True, help="mailbox clock, epoch s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--max-concurrency", type=int, default=0)
    parser.add_argument("--apply-per-min", type=int, default=0, help="0: generous")
    parser.add_argument("--rules", action="append", default=[], help="rule file or directory")
    args = parser.parse_args()
    rules = [Path(r) for r in args.rules]
    with ExitStack() as stack:
        sims: dict[str, Simulator] = {}
        for index in range(args.accounts):
            config = sim_config(
                messages=args.messages,
                start=args.start,
                seed=args.seed * 1000 + index,
                latency_ms=args.latency_ms,
                max_concurrency=args.max_concurrency,
            )
            limits = dict(config.rate_limits)
            if args.apply_per_min:
                limits[APPLY_TAG] = (args.apply_per_min, 60.0)
            config = replace(
                config,
                credentials=account_credentials(index),
                rate_limits=limits,
                latency_jitter_ms=args.latency_ms,
            )
            sims[f"tenant{index:02d}"] = stack.enter_context(Simulator(config))
        listed = [
            {
                "name": name,
                "url": sim.url,
                "client_id": sim.config.credentials.client_id,
                "client_secret": sim.config.credentials.client_secret,
            }
            for name, sim in sims.items()
        ]
        print(json.dumps({"accounts": listed}), flush=True)
        for line in sys.stdin:
            try:
                reply: dict[str, Any] = {"ok": _answer(sims, rules, json.loads(line))}
            except Exception as exc:  # answered to the parent, which raises it
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            print(json.dumps(reply), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
