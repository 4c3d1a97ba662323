"""The operator's commands end to end: status, tags, backfill (resumable), and exit codes."""

from __future__ import annotations

import json
import math
import re
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tagger import exitcodes
from tagger.rules import load_rules
from tagger.simulator import Simulator, SimulatorConfig
from tests.support.daemon import (
    RULES_DIR,
    Running,
    applied_pairs,
    expected_pairs,
    repeated_applies,
    run_tagger,
    sim_message,
    wait_until,
    write_config,
)

START = datetime(2026, 11, 2, 12, 0, 0, tzinfo=UTC)


def iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_status_and_tags_report_what_happened(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=31, messages=200)) as sim:
        cfg = str(write_config(tmp_path, sim))
        before = run_tagger("status", "-c", cfg)
        assert before.returncode == 0, before.stderr
        assert "has not run" in before.stdout
        assert not (tmp_path / "state.db").exists()

        once = run_tagger("once", "-c", cfg)
        assert once.returncode == 0, once.stderr
        status = run_tagger("status", "-c", cfg)
        assert status.returncode == 0, status.stderr
        out = status.stdout
        assert re.search(r"account demo: last once \d{4}-\d\d-\d\d .* status ok", out), out
        applied = re.search(r"^  applied: (\d+)$", out, re.MULTILINE)
        assert applied is not None and int(applied.group(1)) == len(applied_pairs(sim))
        # One watermark per distinct search, each a moment ago (the lag).
        marks = re.findall(r"^watermark demo \[.+\]: .* \(0h00m ago\)$", out, re.MULTILINE)
        assert len(marks) >= 2, out
        per_rule = re.findall(r"^  ([\w.-]+) -> .+ \((st-\w+)\): (\d+)$", out, re.MULTILINE)
        assert sum(int(n) for _r, _t, n in per_rule) == len(applied_pairs(sim))
        assert {t for _r, t, _n in per_rule} == {t for _m, t in applied_pairs(sim)}
        assert "failures:" not in out

        tags = run_tagger("tags", "-c", cfg)
        assert tags.returncode == 0, tags.stderr
        listed = re.findall(r"^  (st-\w+)  (.+)$", tags.stdout, re.MULTILINE)
        assert sorted(listed) == sorted((t["id"], t["path"]) for t in sim.smart_tags())
        assert f"account demo: {len(sim.smart_tags())} Smart Tags" in tags.stdout


def backfill_expected(sim: Simulator, since: datetime, until: datetime) -> set[tuple[str, str]]:
    received = {}
    for record in sim.messages():
        when = sim_message(sim, record.id).summary.received
        assert when is not None
        received[record.id] = when
    return {(m, t) for m, t in expected_pairs(sim) if since <= received[m] < until}


def test_backfill_applies_the_period_and_resumes_after_interruption(tmp_path: Path) -> None:
    config = SimulatorConfig(seed=32, messages=300, start_time=START, latency_ms=25)
    with Simulator(config) as sim:
        # Messages are received on whole seconds; a half-open period must not
        # depend on how a boundary second is searched, so avoid occupied ones.
        taken = {int(m.received) for m in sim.messages()}
        since, until = START - timedelta(hours=5), START - timedelta(hours=1)
        while int(since.timestamp()) in taken or int(until.timestamp()) in taken:
            since, until = since + timedelta(seconds=1), until + timedelta(seconds=1)
        expected = backfill_expected(sim, since, until)
        assert len(expected) > 40
        # The daemon's own windows would reach back 24 h: keep them out of the way.
        cfg = str(write_config(tmp_path, sim))
        args = ("backfill", "-c", cfg, "--since", iso(since), "--until", iso(until))
        slices = ("--slice", "20m")

        first = Running(*args, *slices)
        # Slices run in order: a tag on mail of the third slice means two are complete.
        third = backfill_expected(sim, since + timedelta(minutes=40), until)
        wait_until(lambda: bool(applied_pairs(sim) & third), 30, "the third slice's tags")
        first.signal(signal.SIGINT)
        assert first.wait(30) == exitcodes.INCOMPLETE, first.stderr
        assert "backfill interrupted" in first.stderr
        assert "interrupted" in first.stdout
        partial = applied_pairs(sim)
        assert partial < expected
        searches = sim.stats()["endpoints"]["search"]["total"]

        second = run_tagger(*args, *slices)
        assert second.returncode == 0, second.stderr
        resumed = re.search(r"resuming backfill from (\S+)Z", second.stdout)
        assert resumed is not None, second.stdout
        cursor = datetime.fromisoformat(resumed.group(1)).replace(tzinfo=UTC)
        assert since < cursor < until
        # Only the slices from the cursor on were searched again, each once per query
        # (plus the halves of any check that an answer fuller than all before was complete).
        remaining = math.ceil((until - cursor) / timedelta(minutes=20))
        queries = len(load_rules([RULES_DIR]).queries)
        assert remaining < 12
        logged = [json.loads(line) for line in second.stderr.splitlines() if "cap_checked" in line]
        halves = sum(int(e["calls"]) for e in logged if e["event"] == "search_cap_checked")
        searched = sim.stats()["endpoints"]["search"]["total"] - searches
        assert searched == remaining * queries + halves
        assert halves <= remaining * 2
        assert applied_pairs(sim) == expected
        assert repeated_applies(sim) == {}
        # One merged summary for the account, not one per slice.
        assert len(re.findall(r"^account demo: ", second.stdout, re.MULTILINE)) == 1

        third = run_tagger(*args, *slices)
        assert third.returncode == 0, third.stderr
        assert "already complete" in third.stdout
        assert repeated_applies(sim) == {}


def test_exit_codes(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=33, messages=20)) as sim:
        broken = tmp_path / "broken"
        broken.mkdir()
        cfg = write_config(broken, sim)
        cfg.write_text(cfg.read_text() + "schedule: [not, a, mapping\n")
        result = run_tagger("once", "-c", str(cfg))
        assert result.returncode == 2, result.stderr
        assert str(cfg) in result.stderr or "config.yaml" in result.stderr

        unknown = tmp_path / "unknown"
        unknown.mkdir()
        rules = unknown / "rules.yaml"
        rules.write_text(
            "rules:\n"
            "  - id: needs-missing-tag\n"
            "    description: names a tag the account does not have\n"
            "    tags: [Nowhere/Missing]\n"
        )
        cfg = write_config(unknown, sim, rules=[rules])
        for command in ("once", "run"):
            result = run_tagger(command, "-c", str(cfg))
            assert result.returncode == 2, (command, result.stderr)
            assert "Nowhere/Missing" in result.stderr and "rules.yaml" in result.stderr
        assert sim.stats()["endpoints"]["search"]["total"] == 0

        good = tmp_path / "good"
        good.mkdir()
        cfg = write_config(good, sim)
    # The simulator is gone: nothing listens at its address any more.
    for command in ("once", "tags"):
        result = run_tagger(command, "-c", str(cfg))
        assert result.returncode == 1, (command, result.stderr)
        assert "tagger: error:" in result.stderr
