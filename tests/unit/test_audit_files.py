"""Audit and report files: private, never through a symbolic link, safe for any mail text."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tagger.audit.entry import Entry, safe_text, safe_value
from tagger.audit.files import is_link_refusal, open_private
from tagger.audit.writer import write_entries, write_failure

HOSTILE = "invoice \udcff\x00\x1b[31m\x7f\x9b end"


class Batch:
    """The entries of one account's cycle, as the writer takes them."""

    def __init__(self, entries: list[Entry]) -> None:
        self.account = "main"
        self.dry_run = False
        self.entries = entries


def _entry(subject: str) -> Entry:
    return Entry(
        message_id="m-1",
        received=None,
        sender=safe_text("a@example.com\udcff"),
        subject=safe_text(subject),
        rule="r1",
        rule_mode="enforce",
        tags=("Security/Phishing",),
        planned=("t-1",),
        skipped=(),
        explanation=safe_value({"seen": [subject], "why": {subject: subject}}),
        at=datetime(2026, 12, 4, tzinfo=UTC),
    )


def test_mail_text_is_made_safe_where_it_enters_the_record() -> None:
    clean = safe_text(HOSTILE)
    assert clean == "invoice \ufffd\ufffd\ufffd[31m\ufffd\ufffd end"
    assert clean.encode("utf-8")  # every encoding step downstream can write it
    assert safe_text("tab\tline\nok\r") == "tab\tline\nok\r"


def test_a_hostile_subject_is_written_whole_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    assert write_entries(path, [Batch([_entry(HOSTILE)])]) == 1
    record = json.loads(path.read_text(encoding="utf-8"))
    assert record["subject"] == safe_text(HOSTILE)
    assert record["explanation"]["seen"] == [safe_text(HOSTILE)]
    assert "\x00" not in path.read_text(encoding="utf-8")


def test_files_are_created_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_entries(tmp_path / "audit.jsonl", [Batch([_entry("hello")])])
        os.close(open_private(tmp_path / "report.html", append=False))
    finally:
        os.umask(old)
    for name in ("audit.jsonl", "report.html"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600


def test_a_symbolic_link_at_the_audit_path_is_refused_with_the_fix(tmp_path: Path) -> None:
    victim = tmp_path / "passwd-copy"
    victim.write_text("root:x:0:0\n")
    link = tmp_path / "audit.jsonl"
    link.symlink_to(victim)
    with pytest.raises(OSError) as caught:
        write_entries(link, [Batch([_entry("hello")])])
    assert is_link_refusal(caught.value)
    message = write_failure(link, caught.value)
    assert str(link) in message and "symbolic link" in message and "audit.path" in message
    assert victim.read_text() == "root:x:0:0\n"


def test_a_report_is_never_written_through_a_symbolic_link(tmp_path: Path) -> None:
    victim = tmp_path / "keep.txt"
    victim.write_text("keep\n")
    link = tmp_path / "report.html"
    link.symlink_to(victim)
    with pytest.raises(OSError) as caught:
        open_private(link, append=False)
    assert is_link_refusal(caught.value)
    assert victim.read_text() == "keep\n"


def test_tagger_report_names_the_link_it_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tagger import exitcodes
    from tagger.cli.main import main

    audit = tmp_path / "audit.jsonl"
    write_entries(audit, [Batch([_entry(HOSTILE)])])
    victim = tmp_path / "keep.txt"
    victim.write_text("keep\n")
    link = tmp_path / "report.html"
    link.symlink_to(victim)
    assert main(["report", str(audit), "--html", str(link)]) == exitcodes.USER_ERROR
    err = capsys.readouterr().err
    assert str(link) in err and "symbolic link" in err
    assert victim.read_text() == "keep\n"
    # And without the link the page is written, private, the hostile subject as text.
    link.unlink()
    assert main(["report", str(audit), "--html", str(link)]) == exitcodes.OK
    assert stat.S_IMODE(link.stat().st_mode) == 0o600
    assert "invoice \ufffd" in link.read_text(encoding="utf-8")
