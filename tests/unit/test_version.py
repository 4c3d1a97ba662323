"""One version, written once, that changes with each release.

``tagger/_version.py`` holds it; the package metadata (pyproject.toml reads it
from there), ``tagger --version``, the man page and the client's User-Agent
show it. Between releases it is a development version of the next release,
above every release in the CHANGELOG and above the previous release's (the
state fixture's, tests/fixtures/upgrade/manifest.json).
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from packaging.version import Version

import tagger
from tagger.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def test_pyproject_reads_the_version_from_the_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    dynamic = project["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "tagger._version.__version__"}


def test_tagger_version_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"tagger {tagger.__version__}"


def test_the_version_follows_the_changelog_and_the_previous_release() -> None:
    version = Version(tagger.__version__)
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## \[([^\]]+)\]", changelog, re.MULTILINE)
    released = [Version(h) for h in headings if h != "Unreleased"]
    if version.is_devrelease:
        # Unreleased work: the CHANGELOG's first section, and a version above every release.
        assert headings[0] == "Unreleased"
        assert all(version > r for r in released)
    else:
        # A release: its own section comes first, above every earlier one.
        assert headings[0] == str(version)
        assert all(version > r for r in released[1:])
    manifest = json.loads(
        (ROOT / "tests" / "fixtures" / "upgrade" / "manifest.json").read_text(encoding="utf-8")
    )
    previous = Version(manifest["written_by"].removeprefix("tagger "))
    assert version > previous
