"""The daemon's check of the files on disk: only when one changed, and what would fail."""

from __future__ import annotations

import os
from pathlib import Path

from tagger.config import load_config
from tagger.service.rulewatch import RuleFilesWatch, first_problem
from tests.support.config import MINIMAL, write_config

RULE = """\
rules:
  - id: triage
    description: every inbound message
    search: {route: [inbound]}
    tags: [Review/Needs triage]
"""


def setup(tmp_path: Path) -> Path:
    path = write_config(tmp_path, MINIMAL.replace("{env: TEST_SECRET}", "inline-secret"))
    (tmp_path / "rules" / "one.yaml").write_text(RULE, encoding="utf-8")
    return path


def touch_later(path: Path) -> None:
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))


def test_a_change_is_seen_once_and_a_new_file_counts(tmp_path: Path) -> None:
    path = setup(tmp_path)
    config = load_config(path)
    watch = RuleFilesWatch(path, config)
    assert not watch.changed(config)
    touch_later(tmp_path / "rules" / "one.yaml")
    assert watch.changed(config) and not watch.changed(config)
    (tmp_path / "rules" / "two.yaml").write_text(RULE.replace("triage", "other"))
    touch_later(tmp_path / "rules")
    assert watch.changed(config)
    touch_later(path)
    assert watch.changed(config)
    watch.problem = "x"
    watch.loaded(config)
    assert watch.problem is None and not watch.changed(config)


def test_first_problem_names_what_the_next_reload_would_meet(tmp_path: Path) -> None:
    path = setup(tmp_path)
    assert first_problem(path) is None
    (tmp_path / "rules" / "one.yaml").write_text(RULE + "    priorty: 5\n")
    found = first_problem(path)
    assert found is not None and f"{tmp_path / 'rules' / 'one.yaml'}:6:5" in found
    assert "priorty" in found
    path.write_text(path.read_text() + "  - unknown_key: 1\nbogus: true\n")
    found = first_problem(path)
    assert found is not None and str(path) in found
