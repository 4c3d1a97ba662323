"""One exit-code meaning across commands, and summaries that say what the code says.

The table of :data:`tagger.exitcodes.MEANINGS` is the README's and the man
page's; every outcome of a cycle gives one code, and the summary line that
explains it: ``needs attention:`` for 1 (nothing says the next run retries
what only the operator can fix), ``incomplete: …; the next run retries`` for 3.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tagger import exitcodes
from tagger.cli.main import build_parser
from tagger.cli.manpage import render
from tagger.engine.tally import CycleReport

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 12, 1, tzinfo=UTC)

NEEDS_OPERATOR: dict[str, dict[str, Any]] = {
    "account error": {"account_error": "credentials refused"},
    "search refused": {"search_failures": 1, "search_refused": 1},
    "set aside": {"failed": 1, "set_aside": ["m1"]},
    "saturated window": {"saturated": 1},
    "new pause": {"new_pauses": ["rule r paused"]},
    "preflight": {"preflight": ["audit file not writable"]},
}
RETRIED: dict[str, dict[str, Any]] = {
    "transient search failure": {"search_failures": 1},
    "transient message failure": {"failed": 2},
    "window held back": {"held_back": 1},
    "stop request": {"interrupted": True},
}


def test_the_readme_and_the_man_page_show_the_one_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    page = render(build_parser())
    for code, meaning in exitcodes.MEANINGS.items():
        assert f"| {code} | {meaning} |" in readme
        assert f".TP\n{code}\n" in page


@pytest.mark.parametrize("name", sorted(NEEDS_OPERATOR))
def test_what_needs_the_operator_exits_1_and_says_so(name: str) -> None:
    report = CycleReport("a", False, T0, T0, **NEEDS_OPERATOR[name])
    assert exitcodes.cycle_exit_code([report]) == exitcodes.FAILURE
    text = "\n".join(report.summary_lines())
    assert "needs attention: " in text
    assert "the next run retries" not in text


@pytest.mark.parametrize("name", sorted(RETRIED))
def test_what_the_next_run_retries_exits_3_and_says_so(name: str) -> None:
    report = CycleReport("a", False, T0, T0, **RETRIED[name])
    assert exitcodes.cycle_exit_code([report]) == exitcodes.INCOMPLETE
    text = "\n".join(report.summary_lines())
    assert "the next run retries" in text
    assert "needs attention" not in text


def test_a_clean_cycle_exits_0_and_one_needing_the_operator_wins_over_retries() -> None:
    clean = CycleReport("a", False, T0, T0)
    assert exitcodes.cycle_exit_code([clean]) == exitcodes.OK
    both = CycleReport("b", False, T0, T0, search_failures=2, search_refused=1, failed=1)
    assert exitcodes.cycle_exit_code([clean, both]) == exitcodes.FAILURE
    assert both.needs_operator() == ["1 search refused for good"]
    assert both.undone() == ["1 search failed", "1 message failed"]
