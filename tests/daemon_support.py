"""Helpers for end-to-end tests: configs pointed at a simulator, tagger processes, expectations.

Everything here drives real components: the simulator is a real HTTP server on
127.0.0.1, tagger runs as a real process (``python -m tagger``), and the state
is a real SQLite file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import yaml

from tagger.mimecast.models import Message, MessageInfo, SmartTag, TrackedEmail
from tagger.rules import RuleSet, evaluate, load_rules, resolve_tags
from tagger.simulator import Simulator
from tagger.simulator.credentials import DEMO
from tagger.simulator.truth import truth_message

ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = ROOT / "rules"
TAGGER = [sys.executable, "-m", "tagger"]


def account_yaml(sim: Simulator, name: str = "demo", api_version: str = "2.0") -> dict[str, Any]:
    """Return one account entry pointing at ``sim`` with its demo credentials."""
    if api_version == "1.0":
        creds: dict[str, Any] = {
            "access_key": DEMO.access_key,
            "secret_key": DEMO.secret_key,
            "app_id": DEMO.app_id,
            "app_key": DEMO.app_key,
        }
    else:
        creds = {"client_id": DEMO.client_id, "client_secret": DEMO.client_secret}
    return {
        "name": name,
        "api_version": api_version,
        "base_url": sim.url,
        "credentials": creds,
        "concurrency": 8,
        "timeout_s": 10,
        "retry": {"max_attempts": 6, "max_total_s": 30, "base_delay_s": 0.05, "max_delay_s": 1},
    }


def write_config(
    tmp: Path,
    sim: Simulator,
    *,
    rules: Iterable[str | Path] = (RULES_DIR / "*.yaml",),
    accounts: list[dict[str, Any]] | None = None,
    **overrides: Any,
) -> Path:
    """Write a config for ``sim`` into ``tmp`` (mode 0600) and return its path.

    State goes to ``tmp/state.db`` and the audit report to ``tmp/audit.jsonl``;
    the schedule is short (2 s) so daemon tests see several cycles quickly.
    ``overrides`` replace top-level keys (e.g. ``window={...}``, ``dry_run=True``).
    """
    data: dict[str, Any] = {
        "accounts": accounts if accounts is not None else [account_yaml(sim)],
        "rules": [str(r) for r in rules],
        "state_path": str(tmp / "state.db"),
        "schedule": {"interval": "2s", "jitter": "0s", "misfire_grace": "1m"},
        "window": {
            "overlap": "10m",
            "ingestion_delay": "0s",
            "initial_lookback": "24h",
            "max_catchup": "7d",
            "split_min": "1s",
            "search_cap": 500,
        },
        "max_failures": 5,
        "audit": {"path": str(tmp / "audit.jsonl")},
        "logging": {"format": "json", "level": "info"},
    }
    data.update(overrides)
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return path


def tagger_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the environment for a tagger child process (no systemd variables)."""
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def run_tagger(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``tagger ARGS`` to completion and return the finished process (text output)."""
    return subprocess.run(
        [*TAGGER, *args],
        env=tagger_env(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_tagger(*args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``tagger ARGS`` in the background (stdout and stderr piped, text)."""
    return subprocess.Popen(
        [*TAGGER, *args],
        env=tagger_env(env),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def sim_message(sim: Simulator, message_id: str) -> Message:
    """Return the simulator's message as the rules see it (search summary + info)."""
    summary = TrackedEmail.parse(sim.search_summary_json(message_id))
    info = MessageInfo.parse(sim.message_info_json(message_id))
    assert summary is not None and info is not None
    return Message(summary, info)


def expected_pairs(
    sim: Simulator,
    ruleset: RuleSet | None = None,
    *,
    visible_only: bool = True,
    modes: tuple[str, ...] = ("enforce",),
) -> set[tuple[str, str]]:
    """Return the (message id, tag id) pairs a correct daemon applies to ``sim``'s mailbox.

    Computed from the simulator's own knowledge of each message (which
    components are real attachments, each address, each check's result:
    :func:`~tagger.simulator.truth.truth_message`, not the client's parser), message by
    message, with the rule evaluator alone (no search, window, state or client
    involved), ignoring tags already present (the expected end state includes
    them anyway). ``visible_only`` leaves out messages received after the
    simulator's now.
    """
    rules = ruleset if ruleset is not None else load_rules([RULES_DIR])
    tags = [t for t in (SmartTag.parse(x) for x in sim.smart_tags()) if t is not None]
    ids = {ref: tag.id for ref, tag in resolve_tags(rules, tags).items()}
    now = sim.now()
    out: set[tuple[str, str]] = set()
    for record in sim.messages():
        tags = sim.message_info_json(record.id)["retentionInfo"]["smartTags"]
        message = truth_message(record, tags)
        received = message.summary.received
        if visible_only and received is not None and received.timestamp() > now:
            continue
        for decision in evaluate(rules, message):
            if decision.mode in modes:
                out.update((record.id, ids[ref]) for ref in decision.tags)
    return out


def applied_pairs(sim: Simulator) -> set[tuple[str, str]]:
    """Return the (message id, tag id) pairs the simulator has seen applied."""
    return set(sim.applied())


def repeated_applies(sim: Simulator) -> dict[tuple[str, str], int]:
    """Return the pairs applied more than once, with their apply-call counts."""
    return {pair: n for pair, n in sim.applied().items() if n > 1}


# Waits in these tests only stop a hung test: they are this many times longer
# than the wait takes on an idle machine, so a busy CI machine never fails them.
HANG_GUARD_SLACK = 4.0


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05
) -> None:
    """Poll ``condition`` until it holds; fail the test naming ``what`` after a hang guard.

    ``timeout`` is what the wait takes on an idle machine; the guard is
    :data:`HANG_GUARD_SLACK` times that, so a busy machine never trips it and
    only a hang does.
    """
    guard = timeout * HANG_GUARD_SLACK
    deadline = time.monotonic() + guard
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {guard:g} s waiting for {what}")
        time.sleep(interval)


class Running:
    """A tagger process started in the background, with its output collected as it comes.

    stdout and stderr are read by threads (so the pipes never fill); JSON log
    lines on stderr are parsed into :attr:`events`.
    """

    def __init__(self, *args: str, env: Mapping[str, str] | None = None) -> None:
        self.proc = start_tagger(*args, env=env)
        self.pid = self.proc.pid
        self._lock = threading.Lock()
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: IO[str] | None, into: list[str]) -> None:
        if stream is None:
            return
        for line in stream:
            with self._lock:
                into.append(line)

    @property
    def stdout(self) -> str:
        """Return everything written to stdout so far."""
        with self._lock:
            return "".join(self.out)

    @property
    def stderr(self) -> str:
        """Return everything written to stderr so far."""
        with self._lock:
            return "".join(self.err)

    @property
    def events(self) -> list[dict[str, Any]]:
        """Return the JSON log records written to stderr so far, in order."""
        with self._lock:
            lines = list(self.err)
        out = []
        for line in lines:
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict):
                    out.append(record)
        return out

    def named(self, event: str) -> list[dict[str, Any]]:
        """Return the log records whose ``event`` is ``event``."""
        return [e for e in self.events if e.get("event") == event]

    def wait_event(self, event: str, count: int = 1, timeout: float = 20) -> list[dict[str, Any]]:
        """Wait until ``event`` was logged ``count`` times; return those records."""

        def enough() -> bool:
            if self.proc.poll() is not None and len(self.named(event)) < count:
                raise AssertionError(
                    f"tagger exited ({self.proc.returncode}) before logging {event!r}:\n"
                    + self.stderr[-4000:]
                )
            return len(self.named(event)) >= count

        wait_until(enough, timeout, f"{count} x {event!r} in the log")
        return self.named(event)

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the process."""
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 30) -> int:
        """Wait for the process to exit (bounded) and for its output; return the exit code."""
        code = self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=5)
        return code

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM the process if it still runs, then :meth:`wait`; kill it if that times out."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def file_digest(path: Path) -> str | None:
    """Return the SHA-256 of a file's bytes, or None when it does not exist."""
    if not path.exists():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def audit_records(path: Path) -> list[dict[str, Any]]:
    """Return the JSON Lines records of an audit report (empty when it does not exist)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
