"""Headless Chromium for tests: load a local file, return its DOM and its console messages.

Chromium is installed by ``.ci/run`` (Debian's ``chromium`` package); tests that
need it skip, saying so, only when it is not installed on this machine.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
)
CONSOLE = re.compile(r":CONSOLE(?:\(\d+\))?:?\d*\] (.*)$", re.MULTILINE)

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed here (apt-get install chromium; .ci/run installs it)",
)


@dataclass(frozen=True)
class Loaded:
    """What Chromium made of a page: the DOM after load and every console message."""

    dom: str
    console: list[str]


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory(prefix="tagger-chromium-") as profile:
        done = subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def load(page: Path) -> Loaded:
    """Load ``page`` in a fresh headless Chromium profile; returns the DOM and console lines."""
    done = _chromium("--dump-dom", page.resolve().as_uri())
    return Loaded(done.stdout, CONSOLE.findall(done.stderr))


def screenshot(page: Path, out: Path) -> None:
    """Save a 1200x2400 screenshot of ``page`` to ``out`` (PNG)."""
    _chromium(f"--screenshot={out}", "--window-size=1200,2400", page.resolve().as_uri())
    assert out.stat().st_size > 0
