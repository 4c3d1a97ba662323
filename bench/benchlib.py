"""Shared pieces of the end-to-end benchmarks: configs, expected tags, call counting."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from tagger.config import Config, load_config
from tagger.logs.configure import configure_logging
from tagger.rules import RuleSet
from tagger.simulator import Simulator
from tagger.simulator.credentials import DEMO
from testkit import RULES_DIR, expected
from testkit.setup import TEST_WINDOW

SHIPPED_RULES = (RULES_DIR / "*.yaml",)


def write_config(
    tmp: Path,
    url: str,
    *,
    concurrency: int,
    rules: Iterable[str | Path] = SHIPPED_RULES,
    state: Path | None = None,
) -> Config:
    """Write a tagger config for the simulator at ``url`` into ``tmp`` and load it.

    The state goes to ``state`` (default ``tmp/state.db``); the window looks
    back 24 hours on first start, with a 10-minute overlap and no ingestion
    delay. Raises UserError when the config does not load.
    """
    data: dict[str, Any] = {
        "accounts": [
            {
                "name": "bench",
                "api_version": "2.0",
                "base_url": url,
                "credentials": {
                    "client_id": DEMO.client_id,
                    "client_secret": DEMO.client_secret,
                },
                "concurrency": concurrency,
                "timeout_s": 30,
            }
        ],
        "rules": [str(r) for r in rules],
        "state_path": str(state or tmp / "state.db"),
        "window": dict(TEST_WINDOW),
        "logging": {"format": "json", "level": "info"},
        # The benchmarks measure applying: no audit-first wait for promotion.
        "rollout": "enforce",
    }
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return load_config(path)


def quiet_logging() -> io.TextIOBase:
    """Log as the daemon does (JSON, level info) into the null device; returns the stream.

    Logging stays on so its cost is part of the figures; only the output is discarded.
    """
    sink = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the run
    configure_logging("json", "info", stream=sink)
    return sink


def expected_pairs(sim: Simulator, ruleset: RuleSet) -> set[tuple[str, str]]:
    """Return the (message id, tag id) pairs a correct run applies to ``sim``'s whole mailbox.

    The tests' computation (:func:`testkit.expected.expected_pairs`: the
    rule evaluator alone, enforce mode), over every message whatever the
    simulator's clock; ``sim`` need not be serving.
    """
    return expected.expected_pairs(sim, ruleset, visible_only=False)


def delta(after: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    """Return the per-endpoint call counts made between two snapshots."""
    return {k: after.get(k, 0) - before.get(k, 0) for k in after}
