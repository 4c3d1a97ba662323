"""Output discipline and quiet logs: data on stdout, diagnostics on stderr, no floods.

Real `tagger` processes against the simulator for the commands; the log
processor and the progress display are also driven directly (a pseudo-terminal
stands in for a terminal).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
from pathlib import Path

import structlog

from tagger import exitcodes
from tagger.cli.progress import Progress
from tagger.logs.configure import configure_logging
from tagger.logs.repeat import CollapseRepeats
from tagger.simulator import Simulator, SimulatorConfig
from tagger.simulator.credentials import DEMO
from tests.support.daemon import ROOT, TAGGER, run_tagger, tagger_env, write_config


def events(stderr: str) -> list[dict[str, object]]:
    out = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def test_config_warning_goes_to_stderr_and_tags_json_stays_clean(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=71, messages=5)) as sim:
        cfg = write_config(tmp_path, sim)
        cfg.chmod(0o644)  # an inline secret, readable by others: warned about
        done = run_tagger("tags", "--json", "-c", str(cfg))
    assert done.returncode == 0, done.stderr
    assert "config_inline_secret_readable" in done.stderr
    assert "config_inline_secret_readable" not in done.stdout
    json.loads(done.stdout)
    assert DEMO.client_secret not in done.stdout + done.stderr


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=72, messages=20)) as sim:
        cfg = str(write_config(tmp_path, sim))
        assert run_tagger("once", "-c", cfg).returncode == 0
        proc = subprocess.Popen(
            [*TAGGER, "status", "-c", cfg],
            cwd=ROOT,
            env=tagger_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # like `| head -0`: the reader is gone before the first line
        err = proc.stderr.read()
        code = proc.wait(timeout=60)
    assert code == exitcodes.BROKEN_PIPE, err
    assert "Traceback" not in err and "BrokenPipeError" not in err


def test_cycles_log_summaries_with_fields_not_a_line_per_tag(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=73, messages=150)) as sim:
        cfg = str(write_config(tmp_path, sim))
        done = run_tagger("run", "-c", cfg, "--max-cycles", "1")
    assert done.returncode == 0, done.stderr
    logged = events(done.stderr)
    names = [e["event"] for e in logged]
    assert "tag_applied" not in names
    (summary,) = [e for e in logged if e["event"] == "cycle_summary"]
    assert summary["account"] == "demo" and "summary" not in summary
    assert isinstance(summary["applied"], int) and summary["applied"] > 0
    per_rule = [e for e in logged if e["event"] == "rule_summary"]
    assert sum(int(str(e["applied"])) for e in per_rule) == summary["applied"]
    assert len({e["rule"] for e in per_rule}) == len(per_rule) >= 7


def test_repeated_events_collapse_into_one_line_and_a_count() -> None:
    now = [0.0]
    collapse = CollapseRepeats(window=5.0, clock=lambda: now[0])
    seen = []
    for _ in range(88):
        with contextlib.suppress(structlog.DropEvent):
            seen.append(collapse(None, "warning", {"event": "rate_limited", "wait_s": 1}))
    assert len(seen) == 1 and "repeated" not in seen[0]
    other = collapse(None, "warning", {"event": "rate_limited", "wait_s": 2})
    assert "repeated" not in other
    now[0] = 6.0
    later = collapse(None, "warning", {"event": "rate_limited", "wait_s": 1})
    assert later["repeated"] == 87

    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    log = structlog.get_logger("tagger.test")
    for _ in range(88):
        log.warning("rate_limit_pause", endpoint="/api/x", wait_s=1.5)
    log.info("something_else")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["event"] for e in lines] == ["rate_limit_pause", "something_else"]


def test_progress_without_a_terminal_logs_percentage_rate_and_eta() -> None:
    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    now = [0.0]
    progress = Progress(4, "slice", stream=io.StringIO(), every=10.0, clock=lambda: now[0])
    for step in range(4):
        now[0] = 11.0 * (step + 1)
        progress.update(f"slice {step}")
    progress.close()
    shown = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["percent"] for e in shown] == [25.0, 50.0, 75.0, 100.0]
    assert shown[0]["eta_s"] == 33 and shown[-1]["eta_s"] == 0
    assert shown[0]["rate_per_min"] == round(60 / 11, 2)


def test_progress_bar_on_a_terminal_keeps_log_lines_above_it() -> None:
    master, slave = os.openpty()
    terminal = os.fdopen(slave, "w", buffering=1, encoding="utf-8")
    try:
        configure_logging("json", "info", stream=terminal)
        log = structlog.get_logger("tagger.test")
        progress = Progress(3, "slice", stream=terminal)
        progress.update("first")
        log.info("between_slices", n=1)
        progress.update("second")
        progress.close()
        log.info("after_the_bar")
        terminal.flush()
        shown = b""
        while True:
            chunk = os.read(master, 65536)
            shown += chunk
            if b"after_the_bar" in shown:
                break
    finally:
        terminal.close()
        os.close(master)
    text = shown.decode("utf-8")
    # The bar was cleared (carriage return) before the log line was written, so the
    # line is whole and the bar is redrawn below it.
    before, _, rest = text.partition('{"n": 1')
    assert "\r" in before.rsplit("\n", 1)[-1] and "slice" in before
    assert "2/3" in rest
    configure_logging("json", "info")
