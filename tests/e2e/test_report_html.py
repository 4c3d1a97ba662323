"""`tagger report`: the HTML page in a real headless Chromium, its numbers against the JSONL.

The audit file comes from a real `tagger once` against the simulator; the
report is written by a real `tagger report` process; Chromium loads it from
disk and its DOM is read back. A control page proves the console check sees
errors, so "no console errors" cannot pass by not looking.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tagger.simulator import Simulator, SimulatorConfig
from tests.support.browser import load, needs_chromium, screenshot
from tests.support.daemon import audit_records, run_tagger, write_config

HOSTILE = (
    "<script>document.title='pwned'</script>"
    "<img src=x onerror=\"document.title='pwned'\">\"'&amp;</td></table>"
)


class Figures(HTMLParser):
    """Collects the numbers a report page shows, from its data attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str], int] = {}
        self.cards: dict[str, int] = {}
        self.bars: Counter[str] = Counter()
        self.tags: Counter[str] = Counter()
        self.ready = False
        self._open: tuple[str, str] | None = None
        self._card: str | None = None
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags[tag] += 1
        if tag == "html" and a.get("data-ready") == "1":
            self.ready = True
        if tag == "rect" and a.get("data-rule"):
            self.bars[str(a["data-rule"])] += int(str(a["data-count"]))
        elif a.get("data-rule") and a.get("data-field"):
            self._open = (str(a["data-rule"]), str(a["data-field"]))
        elif tag == "b" and a.get("data-field"):
            self._card = str(a["data-field"])
        self._in_title = tag == "title" and not self.title

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self.cells[self._open] = int(data)
            self._open = None
        if self._card is not None:
            self.cards[self._card] = int(data)
            self._card = None
        if self._in_title:
            self.title += data

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False


def figures(dom: str) -> Figures:
    parser = Figures()
    parser.feed(dom)
    return parser


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An audit file written by a real live `tagger once` against the simulator."""
    tmp = tmp_path_factory.mktemp("audit")
    with Simulator(SimulatorConfig(seed=21, messages=250)) as sim:
        cfg = write_config(tmp, sim)
        done = run_tagger("once", "-c", str(cfg))
        assert done.returncode == 0, done.stderr
    path = tmp / "audit.jsonl"
    assert len(audit_records(path)) > 50
    return path


@needs_chromium
def test_console_check_sees_errors(tmp_path: Path) -> None:
    page = tmp_path / "control.html"
    page.write_text("<!DOCTYPE html><p>x</p><script>console.error('boom'); nope();</script>")
    console = load(page).console
    assert any("boom" in line for line in console), console
    assert any("Uncaught" in line for line in console), console


@needs_chromium
def test_html_report_loads_cleanly_and_shows_the_jsonl_numbers(audit: Path, tmp_path: Path) -> None:
    page, table = tmp_path / "report.html", tmp_path / "report.csv"
    done = run_tagger("report", str(audit), "--html", str(page), "--csv", str(table))
    assert done.returncode == 0, done.stderr
    assert str(page.resolve()) in done.stdout
    loaded = load(page)
    assert loaded.console == []
    shown = figures(loaded.dom)
    assert shown.ready, "the page's script did not run"

    records = audit_records(audit)
    per_rule = Counter(r["rule"] for r in records)
    outcomes = Counter((r["rule"], r["outcome"]) for r in records)
    assert shown.cards["total"] == len(records)
    assert shown.cards["messages"] == len({r["message_id"] for r in records})
    for rule, count in per_rule.items():
        assert shown.cells[(rule, "matches")] == count
        assert shown.bars[rule] == count, "the chart must show every match once"
        for outcome in ("applied", "would-apply", "already-tagged", "failed"):
            assert shown.cells[(rule, outcome)] == outcomes[(rule, outcome)]
    assert set(shown.bars) == set(per_rule)

    with table.open(encoding="utf-8", newline="") as rows:
        read = list(csv.DictReader(rows))
    assert Counter(r["rule"] for r in read) == per_rule
    assert {r["message_id"] for r in read} == {r["message_id"] for r in records}
    screenshot(page, tmp_path / "report.png")


@needs_chromium
def test_html_report_shows_hostile_subjects_as_text(audit: Path, tmp_path: Path) -> None:
    first = audit_records(audit)[0]
    hostile = dict(first, subject=HOSTILE, sender=f"x@{HOSTILE}", rule="r<b>1</b>")
    crafted = tmp_path / "audit.jsonl"
    crafted.write_text(json.dumps(hostile) + "\n", encoding="utf-8")
    page = tmp_path / "report.html"
    done = run_tagger("report", str(crafted), "--html", str(page))
    assert done.returncode == 0, done.stderr
    loaded = load(page)
    shown = figures(loaded.dom)
    assert loaded.console == []
    assert shown.title == "tagger audit report"
    assert shown.tags["img"] == 0 and shown.tags["b"] == len(shown.cards)
    assert shown.tags["script"] == 1
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in loaded.dom
    assert shown.cells[("r<b>1</b>", "matches")] == 1
