"""Preview rules on history (`once`/`backfill --dry-run --rule`), time arguments, `-c` anywhere.

Real `tagger` processes against the simulator; the live state is checked
byte for byte before and after each preview.
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from tagger import exitcodes
from tagger.simulator import Simulator, SimulatorConfig
from tagger.state import StateStore
from tests.support.daemon import (
    RULES_DIR,
    applied_pairs,
    audit_records,
    file_digest,
    run_tagger,
    write_config,
)

QUIET_RULE = {
    "id": "never-matches",
    "description": "a rule that matches nothing (to be previewed)",
    "enabled": False,
    "search": {"route": ["inbound"]},
    "match": {"field": "subject", "equals": "no subject is ever this"},
    "tags": ["Security/Phishing"],
}


def rules_dir(tmp: Path) -> Path:
    rules = tmp / "rules"
    shutil.copytree(RULES_DIR, rules)
    (rules / "quiet.yaml").write_text(yaml.safe_dump({"rules": [QUIET_RULE]}), encoding="utf-8")
    return rules


def live_state(path: Path) -> tuple[object, ...]:
    with StateStore.open(path, lock=False, readonly=True) as store:
        return (
            file_digest(path),
            file_digest(Path(f"{path}-wal")),
            store.watermarks(),
            store.tags_per_rule(),
            [(r.id, r.status) for r in store.last_runs()],
        )


def rule_lines(stdout: str) -> dict[str, int]:
    return {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"^  rule ([\w.-]+): (\d+) matched", stdout, re.MULTILINE)
    }


def test_preview_rules_on_history_without_touching_live_state(tmp_path: Path) -> None:
    rules = rules_dir(tmp_path)
    with Simulator(SimulatorConfig(seed=61, messages=200)) as sim:
        cfg = str(write_config(tmp_path, sim, rules=[rules / "*.yaml"]))
        live = run_tagger("once", "-c", cfg)
        assert live.returncode == 0, live.stderr
        state = tmp_path / "state.db"
        before, pairs = live_state(state), applied_pairs(sim)

        sim.add_messages(40)
        once = run_tagger(
            "once", "-c", cfg, "--dry-run", "--rule", "phishing-suspect", "--rule", "never-matches"
        )
        assert once.returncode == 0, once.stderr
        assert set(rule_lines(once.stdout)) == {"phishing-suspect", "never-matches"}
        assert rule_lines(once.stdout)["never-matches"] == 0

        back = run_tagger(
            "backfill", "-c", cfg, "--dry-run", "--rule", "phishing-suspect", "--since", "6h"
        )
        assert back.returncode == 0, back.stderr
        found = rule_lines(back.stdout)
        assert set(found) == {"phishing-suspect"} and found["phishing-suspect"] > 0
        dry = audit_records(tmp_path / "audit.dry-run.jsonl")
        assert dry and {r["rule"] for r in dry} == {"phishing-suspect"}
        assert {r["mode"] for r in dry} == {"dry-run"}
        assert live_state(state) == before
        assert applied_pairs(sim) == pairs

        refused = run_tagger("once", "-c", cfg, "--rule", "phishing-suspect")
        assert refused.returncode == exitcodes.USER_ERROR
        assert "--rule previews rules and needs --dry-run" in refused.stderr
        unknown = run_tagger("once", "-c", cfg, "--dry-run", "--rule", "phishing-suspects")
        assert unknown.returncode == exitcodes.USER_ERROR
        assert "did you mean 'phishing-suspect'?" in unknown.stderr
        assert live_state(state) == before


def test_summary_lists_every_rule_and_time_arguments_take_durations(tmp_path: Path) -> None:
    rules = rules_dir(tmp_path)
    data = yaml.safe_load((rules / "quiet.yaml").read_text(encoding="utf-8"))
    data["rules"][0]["enabled"] = True
    (rules / "quiet.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    with Simulator(SimulatorConfig(seed=62, messages=80)) as sim:
        cfg = str(write_config(tmp_path, sim, rules=[rules / "*.yaml"]))
        # -c before the command, as the README writes it.
        once = run_tagger("-c", cfg, "once", "--dry-run")
        assert once.returncode == 0, once.stderr
        assert rule_lines(once.stdout)["never-matches"] == 0
        back = run_tagger("backfill", "-c", cfg, "--dry-run", "--since", "3h", "--until", "1h")
        assert back.returncode == 0, back.stderr
        assert "never-matches" in rule_lines(back.stdout)
        day = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
        iso = run_tagger("backfill", "-c", cfg, "--dry-run", "--since", day, "--slice", "6h")
        assert iso.returncode == 0, iso.stderr
        assert "never-matches" in rule_lines(iso.stdout)
        bad = run_tagger("backfill", "-c", cfg, "--dry-run", "--since", "yesterday")
        assert bad.returncode == exitcodes.USER_ERROR
        assert "--since: 'yesterday' is neither a duration nor a date-time" in bad.stderr
