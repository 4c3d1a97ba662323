"""Configs pointed at a simulator, written the way an operator would write them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from tagger.simulator import Simulator
from tagger.simulator.credentials import DEMO
from testkit import RULES_DIR

# The window every test and benchmark config uses: no ingestion delay, a day back.
TEST_WINDOW: dict[str, Any] = {
    "overlap": "10m",
    "ingestion_delay": "0s",
    "initial_lookback": "24h",
    "max_catchup": "7d",
    "split_min": "1s",
    "search_cap": 500,
}


def account_yaml(sim: Simulator, name: str = "demo", api_version: str = "2.0") -> dict[str, Any]:
    """Return one account entry pointing at ``sim`` with its demo credentials."""
    if api_version == "1.0":
        creds: dict[str, Any] = {
            "access_key": DEMO.access_key,
            "secret_key": DEMO.secret_key,
            "app_id": DEMO.app_id,
            "app_key": DEMO.app_key,
        }
    else:
        creds = {"client_id": DEMO.client_id, "client_secret": DEMO.client_secret}
    return {
        "name": name,
        "api_version": api_version,
        "base_url": sim.url,
        "credentials": creds,
        "concurrency": 8,
        "timeout_s": 10,
        "retry": {"max_attempts": 6, "max_total_s": 30, "base_delay_s": 0.05, "max_delay_s": 1},
    }


def write_config(
    tmp: Path,
    sim: Simulator,
    *,
    rules: Iterable[str | Path] = (RULES_DIR / "*.yaml",),
    accounts: list[dict[str, Any]] | None = None,
    **overrides: Any,
) -> Path:
    """Write a config for ``sim`` into ``tmp`` (mode 0600) and return its path.

    State goes to ``tmp/state.db`` and the audit report to ``tmp/audit.jsonl``;
    the schedule is short (2 s) so daemon tests see several cycles quickly, and
    a cycle may still run for a minute (``max_cycle``): the tests that are
    about a cycle's bound set their own.
    Rules apply at once (``rollout: enforce``). ``overrides`` replace top-level keys
    (e.g. ``window={...}``, ``dry_run=True``, ``rollout="audit-first"``).
    """
    data: dict[str, Any] = {
        "accounts": accounts if accounts is not None else [account_yaml(sim)],
        "rules": [str(r) for r in rules],
        "state_path": str(tmp / "state.db"),
        "schedule": {"interval": "2s", "jitter": "0s", "misfire_grace": "1m", "max_cycle": "1m"},
        "window": dict(TEST_WINDOW),
        "max_failures": 5,
        "audit": {"path": str(tmp / "audit.jsonl")},
        "logging": {"format": "json", "level": "info"},
        # Tests of the cycle expect rules to apply at once; rollout tests override it.
        "rollout": "enforce",
    }
    data.update(overrides)
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return path


# A rule decided from the search summary alone: it never reads get-message-info,
# so only the state (not retentionInfo.smartTags) stands between a restart and a
# second apply. Crash harnesses and state tests use it.
SUMMARY_ONLY_RULE = """\
rules:
  - id: triage-internal
    description: Every internal message, decided from the search summary alone.
    priority: 1
    search:
      route: [internal]
    match:
      field: spam.score
      gte: 0
    tags: [Review/Needs triage]
"""
