"""The previous release's own code, unpacked from the repository, run as a process.

The release before held pairs (commit :data:`PREVIOUS`) held a rule's window
while a rail kept its tags back. The upgrade test runs it to write a state
file with held windows; the held-rails benchmark runs it to show what a rail
cost per cycle before. Both need the checkout's git history.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from testkit import ROOT
from testkit.processes import tagger_env

PREVIOUS = "43c01a8"


class Unavailable(Exception):
    """The previous release cannot be checked out here (no git, or not this history)."""


def unpack_previous(into: Path) -> Path:
    """Unpack the previous release's ``tagger`` package and ``rules`` under ``into``; return it.

    Its own shipped rules (``FOLDER/rules``) are what an installation of it
    ran with: later rule files may use what it does not know (rule metadata).

    Raises :class:`Unavailable` (saying why) when git or the commit is missing.
    """
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        raise Unavailable("needs the repository's git history to check out the previous release")
    archive = into / "previous.tar"
    made = subprocess.run(  # noqa: S603 - git, fixed arguments
        [git, "-C", str(ROOT), "archive", "-o", str(archive), PREVIOUS, "tagger", "rules"],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        raise Unavailable(f"commit {PREVIOUS} is not in this repository: {made.stderr.strip()}")
    folder = into / "previous"
    folder.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    return folder


def run_previous(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the previous release's ``tagger ARGS`` (its package first on the path: the cwd)."""
    return subprocess.run(  # noqa: S603 - this interpreter, our arguments
        [sys.executable, "-m", "tagger", *args],
        env=tagger_env(),
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
