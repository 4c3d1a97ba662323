"""What ships agrees with itself: the example config and the simulator a new user runs."""

from __future__ import annotations

from pathlib import Path

import yaml

from tagger.cli.main import build_parser
from tagger.config.model import WindowConfig

ROOT = Path(__file__).resolve().parents[2]


def test_example_config_and_tagger_simulate_agree_on_the_search_cap() -> None:
    # Otherwise every first run and demo warns search_cap_mismatch, which the user cannot fix.
    example = yaml.safe_load((ROOT / "config.example.yaml").read_text(encoding="utf-8"))
    simulate = build_parser().parse_args(["simulate"])
    assert example["window"]["search_cap"] == simulate.search_cap == WindowConfig.search_cap
