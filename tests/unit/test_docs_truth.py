"""The README, the example config and the systemd unit say true things about each other.

Every `tagger` command in the README's shell blocks parses with the real
parser; every systemd credential the example config or the README names is one
the unit loads; the example config mentions no rule option the rule schema
does not have.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tagger.cli.main import build_parser
from tagger.rules import rules_schema

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLE = (ROOT / "config.example.yaml").read_text(encoding="utf-8")
UNIT = (ROOT / "systemd" / "tagger.service").read_text(encoding="utf-8")


def readme_commands() -> list[str]:
    out = []
    for block in re.findall(r"```sh\n(.*?)```", README, re.S):
        for line in block.splitlines():
            for part in re.split(r"&&|\|\||;", line.split("#")[0]):
                part = part.split("|")[0].split(">")[0].strip()
                words = shlex.split(part)
                if words[:1] == ["sudo"]:
                    words = words[1:]
                if words[:1] == ["tagger"]:
                    out.append(shlex.join(words))
    return out


@pytest.mark.parametrize("command", [*readme_commands(), "tagger -c config.example.yaml once"])
def test_readme_commands_parse(command: str) -> None:
    assert command in README or command.startswith("tagger")
    try:
        build_parser().parse_args(shlex.split(command)[1:])
    except SystemExit as exc:  # argparse's way of refusing
        raise AssertionError(f"the README's {command!r} does not parse") from exc


def test_the_quick_start_command_is_in_the_readme() -> None:
    assert "`tagger -c config.example.yaml once`" in README
    assert len(readme_commands()) >= 5


def test_credential_names_agree_with_the_unit() -> None:
    loaded = set(re.findall(r"^#?LoadCredential(?:Encrypted)?=([\w.-]+):", UNIT, re.MULTILINE))
    assert "mimecast-client-secret" in loaded
    named = set(re.findall(r"\{credential: ([\w.-]+)\}", EXAMPLE + README)) - {"name"}
    assert "mimecast-client-secret" in named
    assert set(named) <= loaded, f"not loaded by systemd/tagger.service: {set(named) - loaded}"


def test_the_example_config_mentions_no_rule_option_that_does_not_exist() -> None:
    rule_options = set(rules_schema()["$defs"]["rule"]["properties"])
    if "accounts" not in rule_options:
        assert not re.search(r"rule names its accounts|rule-level accounts", EXAMPLE)
