"""The daemon as systemd and Prometheus see it: sd_notify datagrams on a real AF_UNIX
socket, the /metrics listener, and per-rule schedules."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tagger.rules import load_rules
from tagger.simulator import Simulator, SimulatorConfig
from tagger.state import StateStore
from tests.support.daemon import (
    Running,
    applied_pairs,
    expected_pairs,
    free_port,
    run_tagger,
    wait_until,
    write_config,
)


class NotifySocket:
    """A datagram socket standing in for systemd's; records each datagram it receives.

    With each datagram it also records how many tags the simulator had applied
    at that moment, to tell pings during the first cycle from later ones.
    """

    def __init__(self, directory: Path, sim: Simulator) -> None:
        self.path = directory / "notify.sock"
        self._sim = sim
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(self.path))
        self._sock.settimeout(0.1)
        self._lock = threading.Lock()
        self.received: list[tuple[list[str], int]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._done.is_set():
            try:
                data = self._sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            applied = len(self._sim.applied())
            with self._lock:
                self.received.append((data.decode().split("\n"), applied))

    def assignments(self) -> list[str]:
        with self._lock:
            return [a for lines, _n in self.received for a in lines]

    def seen(self, assignment: str) -> int:
        """Return how many datagrams carried ``assignment`` (or a ``KEY=`` prefix)."""
        return sum(1 for a in self.assignments() if a == assignment or a.startswith(assignment))

    def close(self) -> None:
        self._done.set()
        self._thread.join(timeout=5)
        self._sock.close()


@contextlib.contextmanager
def notify_socket(sim: Simulator) -> Iterator[NotifySocket]:
    # A short directory: AF_UNIX paths are limited to about 100 bytes.
    with tempfile.TemporaryDirectory(prefix="sdn-") as directory:
        listener = NotifySocket(Path(directory), sim)
        try:
            yield listener
        finally:
            listener.close()


def test_systemd_notify_ready_status_watchdog_reloading_stopping(tmp_path: Path) -> None:
    config = SimulatorConfig(seed=51, messages=300, latency_ms=20)
    with Simulator(config) as sim, notify_socket(sim) as sd:
        env = {"NOTIFY_SOCKET": str(sd.path), "WATCHDOG_USEC": "2000000"}
        daemon = Running("run", "-c", str(write_config(tmp_path, sim)), env=env)
        try:
            wait_until(lambda: sd.seen("READY=1") >= 1, 15, "READY=1")
            daemon.wait_event("cycle_finished")
            wait_until(lambda: sd.seen("STATUS=cycle 1 ") >= 1, 5, "a status after a cycle")
            status = next(a for a in sd.assignments() if a.startswith("STATUS=cycle 1 "))
            applied = len(applied_pairs(sim))
            assert re.fullmatch(
                rf"STATUS=cycle 1 at .*: \d+ scanned, {applied} applied, 0 failed", status
            )
            # The first cycle is long: the watchdog was fed while it made progress,
            # before it applied anything, not only once it completed.
            with sd._lock:
                during = [n for lines, n in sd.received if "WATCHDOG=1" in lines]
            assert during and during[0] == 0 and max(during) == applied
            pings = sd.seen("WATCHDOG=1")
            wait_until(lambda: sd.seen("WATCHDOG=1") > pings, 5, "watchdog pings between cycles")

            ready = sd.seen("READY=1")
            daemon.signal(signal.SIGHUP)
            daemon.wait_event("reload_done")
            wait_until(lambda: sd.seen("READY=1") > ready, 5, "READY=1 after the reload")
            assert sd.seen("RELOADING=1") == 1
            assert sd.seen("MONOTONIC_USEC=") == 1

            assert sd.seen("STOPPING=1") == 0
            daemon.signal(signal.SIGTERM)
            assert daemon.wait(20) == 0, daemon.stderr
        finally:
            daemon.stop()
        wait_until(lambda: sd.seen("STOPPING=1") == 1, 5, "STOPPING=1")
        order = [a for a in sd.assignments() if a in ("READY=1", "RELOADING=1", "STOPPING=1")]
        assert order[0] == "READY=1" and order[-1] == "STOPPING=1"
        assert order.index("RELOADING=1") < len(order) - 2


def metric(text: str, name: str, **labels: str) -> float:
    """Return the value of one sample of the Prometheus text ``text`` (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and line.split(" ")[0] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_endpoint_counts_tags_per_rule_scans_and_cycle_durations(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=52, messages=200)) as sim:
        port = free_port()
        metrics = {"enabled": True, "host": "127.0.0.1", "port": port}
        daemon = Running("run", "-c", str(write_config(tmp_path, sim, metrics=metrics)))
        try:
            listening = daemon.wait_event("metrics_listening")[0]
            assert listening["port"] == port
            daemon.wait_event("cycle_finished", count=2)
            assert applied_pairs(sim) == expected_pairs(sim)
            url = f"http://127.0.0.1:{port}/metrics"
            with urllib.request.urlopen(url, timeout=10) as response:
                text = response.read().decode()
            with StateStore.open(tmp_path / "state.db", lock=False, readonly=True) as store:
                per_rule = store.tags_per_rule()
        finally:
            assert daemon.stop() == 0, daemon.stderr

    paths = {t["id"]: t["path"] for t in sim.smart_tags()}
    assert per_rule and sum(per_rule.values()) == len(applied_pairs(sim))
    for (rule, tag), count in per_rule.items():
        sample = metric(
            text, "tagger_tags_applied_total", account="demo", rule=rule, tag=paths[tag]
        )
        assert sample == count, (rule, tag, text)
    scanned = sum(int(e["scanned"]) for e in daemon.named("cycle_finished")[:2])
    assert metric(text, "tagger_messages_scanned_total", account="demo") >= scanned > 0
    assert metric(text, "tagger_cycle_duration_seconds_count", account="demo") >= 2
    assert metric(text, "tagger_cycle_duration_seconds_sum", account="demo") > 0


def events(stderr: str) -> list[dict[str, Any]]:
    """Return the JSON log records of a finished tagger's stderr."""
    out = []
    for line in stderr.splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict):
                out.append(record)
    return out


SCHEDULED_RULES = """\
rules:
  - id: inbound-hourly
    description: inbound mail, searched once an hour
    schedule: 1h
    search:
      route: [inbound]
    tags: [Review/Needs triage]
  - id: outbound-every-cycle
    description: outbound mail, searched at every cycle
    search:
      route: [outbound]
    tags: [Review/False positive]
"""


def test_a_rule_schedule_longer_than_the_interval_skips_its_search_until_due(
    tmp_path: Path,
) -> None:
    with Simulator(SimulatorConfig(seed=53, messages=60)) as sim:
        rules = tmp_path / "scheduled.yaml"
        rules.write_text(SCHEDULED_RULES)
        cfg = str(write_config(tmp_path, sim, rules=[rules]))
        done = run_tagger("run", "-c", cfg, "--max-cycles", "3")
        assert done.returncode == 0, done.stderr
        skipped = [int(m) for m in re.findall(r'"queries_skipped": (\d+)', done.stderr)]
        assert skipped == [0, 1, 1]
        # Three cycles: the first searches both queries over its windows (slice by
        # slice, plus the halves of the one check that its fullest answer was not
        # truncated); the next two search the every-cycle query alone, once each
        # (a few seconds of mail are one slice).
        checks = [e for e in events(done.stderr) if e.get("event") == "search_cap_checked"]
        assert len(checks) <= 1
        finished = [e for e in events(done.stderr) if e.get("event") == "cycle_finished"]
        searches = [int(e["searches"]) for e in finished]
        assert len(searches) == 3 and searches[0] >= 2 and searches[1:] == [1, 1], searches
        assert sim.stats()["endpoints"]["search"]["total"] == sum(searches)
        assert applied_pairs(sim) == expected_pairs(sim, load_rules([rules]))
