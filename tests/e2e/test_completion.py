"""Shell completion: every shell's script, fish included, and rule ids completed.

The bash script is sourced in a real bash and asked to complete
``tagger promote phish``: it must offer the configured rule's id (read by
``tagger completion --rule-ids``). fish is checked for syntax where it is
installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tagger.cli.completion import RULE_IDS_COMMAND, SHELLS

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def script(shell: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tagger", "completion", shell],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("shell", SHELLS)
def test_every_shell_gets_a_script_that_completes_rule_ids(shell: str) -> None:
    text = script(shell)
    assert "promote" in text and "dry-run" in text
    assert RULE_IDS_COMMAND in text


def test_rule_ids_are_those_of_the_configured_rules(tmp_path: Path) -> None:
    env = {**os.environ, "TAGGER_CONFIG": str(ROOT / "config.example.yaml")}
    done = subprocess.run(
        [sys.executable, "-m", "tagger", "completion", "--rule-ids"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "phishing-suspect" in done.stdout.split() and "greymail-bulk" in done.stdout.split()
    # Nothing to read: no ids, no error on the terminal the user is typing in.
    nothing = subprocess.run(
        [sys.executable, "-m", "tagger", "completion", "--rule-ids", "-c", "missing.yaml"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert nothing.returncode == 0 and nothing.stdout.strip() == ""


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completes_a_rule_id_after_promote(tmp_path: Path) -> None:
    (tmp_path / "tagger.bash").write_text(script("bash"), encoding="utf-8")
    driver = (
        f"source {tmp_path / 'tagger.bash'}\n"
        "COMP_WORDS=(tagger promote phish); COMP_CWORD=2\n"
        'COMP_LINE="tagger promote phish"; COMP_POINT=${#COMP_LINE}\n'
        "_shtab_tagger\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "TAGGER_CONFIG": str(ROOT / "config.example.yaml"),
    }
    done = subprocess.run(
        ["bash", "-c", driver], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.stdout.split() == ["phishing-suspect"], done.stdout + done.stderr


@pytest.mark.skipif(shutil.which("fish") is None, reason="needs fish")
def test_the_fish_script_parses(tmp_path: Path) -> None:
    (tmp_path / "tagger.fish").write_text(script("fish"), encoding="utf-8")
    done = subprocess.run(
        ["fish", "--no-execute", str(tmp_path / "tagger.fish")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
