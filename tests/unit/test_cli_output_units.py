"""Log output without a process: repeated events collapse, progress with and without a terminal."""

from __future__ import annotations

import contextlib
import io
import json
import os

import structlog

from tagger.cli.progress import Progress
from tagger.logs.configure import configure_logging
from tagger.logs.repeat import CollapseRepeats


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
