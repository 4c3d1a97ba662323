"""Per-account rule sets with two accounts, each against its own simulator (real processes).

Account ``acme`` runs the top-level rules (hygiene) plus its own (security);
account ``globex`` replaces them with its own (security and compliance).
Each account's mail gets the tags of its own rule set and nothing of the
other's; a promotion on one account does not promote the same rule on the
other; ``validate``, ``status`` and ``rules`` say which account runs what;
a broken account rule file rejects a SIGHUP reload like a broken global one.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from tagger.rules import RuleSet, load_rules
from tagger.simulator import Simulator, SimulatorConfig
from tagger.state.schema import MIGRATIONS, migrate
from tests.support.daemon import (
    RULES_DIR,
    Running,
    account_yaml,
    applied_pairs,
    expected_pairs,
    repeated_applies,
    run_tagger,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.slow

HYGIENE = RULES_DIR / "hygiene.yaml"
SECURITY = RULES_DIR / "security.yaml"
COMPLIANCE = RULES_DIR / "compliance.yaml"
SHARED_RULE = "spoofed-own-domain"  # in security.yaml: both accounts' sets hold it


def _accounts(acme: Simulator, globex: Simulator) -> list[dict[str, Any]]:
    return [
        {**account_yaml(acme, "acme"), "rules": [str(SECURITY)]},
        {
            **account_yaml(globex, "globex"),
            "rules": [str(SECURITY), str(COMPLIANCE)],
            "rules_mode": "replace",
        },
    ]


def _only(ruleset: RuleSet, rule_id: str) -> RuleSet:
    return RuleSet(tuple(r for r in ruleset.rules if r.id == rule_id))


def test_each_account_is_tagged_by_its_own_rule_set(tmp_path: Path) -> None:
    with (
        Simulator(SimulatorConfig(seed=71, messages=120)) as acme,
        Simulator(SimulatorConfig(seed=72, messages=120)) as globex,
    ):
        cfg = str(write_config(tmp_path, acme, rules=[HYGIENE], accounts=_accounts(acme, globex)))
        acme_rules = load_rules([HYGIENE, SECURITY])
        globex_rules = load_rules([SECURITY, COMPLIANCE])
        want_acme = expected_pairs(acme, acme_rules)
        want_globex = expected_pairs(globex, globex_rules)
        # The sets differ where it shows: each account's mail has matches the other's set lacks.
        assert want_acme - expected_pairs(acme, globex_rules)
        assert want_globex - expected_pairs(globex, acme_rules)

        done = run_tagger("once", "-c", cfg)
        assert done.returncode == 0, done.stderr[-3000:]
        assert applied_pairs(acme) == want_acme
        assert applied_pairs(globex) == want_globex
        assert repeated_applies(acme) == repeated_applies(globex) == {}

        checked = run_tagger("validate", "-c", cfg)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        lines = checked.stdout.splitlines()
        acme_line = next(line for line in lines if line.startswith("account acme:"))
        globex_line = next(line for line in lines if line.startswith("account globex:"))
        assert "own rules add" in acme_line
        assert str(HYGIENE) in acme_line and str(SECURITY) in acme_line
        assert "own rules replace" in globex_line and str(HYGIENE) not in globex_line

        status = run_tagger("status", "--json", "-c", cfg)
        assert status.returncode == 0, status.stderr
        accounts = json.loads(status.stdout)["accounts"]
        assert accounts["acme"]["rules"]["files"] == [str(HYGIENE), str(SECURITY)]
        assert accounts["acme"]["rules"]["rules"] == len(acme_rules.all_rules())
        assert accounts["acme"]["rules"]["own"] == "add"
        assert accounts["globex"]["rules"]["files"] == [str(SECURITY), str(COMPLIANCE)]
        assert accounts["globex"]["rules"]["own"] == "replace"

        listed = run_tagger("rules", "--json", "-c", cfg)
        assert listed.returncode == 0, listed.stderr
        by_account = json.loads(listed.stdout)["accounts"]
        assert {r["id"] for r in by_account["globex"]["rules"]} == {
            r.id for r in globex_rules.all_rules()
        }
        assert "greymail-bulk" not in {r["id"] for r in by_account["globex"]["rules"]}

        # A preview of one account's rule: only the accounts holding it judge by it.
        preview = run_tagger(
            "once", "--dry-run", "--rule", "legal-finance-attachments", "--show", "50", "-c", cfg
        )
        assert preview.returncode == 0, preview.stderr[-3000:]
        assert "legal-finance-attachments" in preview.stdout
        assert applied_pairs(globex) == want_globex  # a dry run applies nothing
        typo = run_tagger("once", "--dry-run", "--rule", "legal-finance-attachment", "-c", cfg)
        assert typo.returncode == 2
        assert "did you mean 'legal-finance-attachments'" in typo.stderr


def test_backfill_judges_each_account_by_its_own_rule_set(tmp_path: Path) -> None:
    with (
        Simulator(SimulatorConfig(seed=81, messages=80)) as acme,
        Simulator(SimulatorConfig(seed=82, messages=80)) as globex,
    ):
        cfg = str(write_config(tmp_path, acme, rules=[HYGIENE], accounts=_accounts(acme, globex)))
        done = run_tagger("backfill", "--since", "2d", "-c", cfg)
        assert done.returncode == 0, done.stderr[-3000:]
        assert applied_pairs(acme) == expected_pairs(acme, load_rules([HYGIENE, SECURITY]))
        assert applied_pairs(globex) == expected_pairs(globex, load_rules([SECURITY, COMPLIANCE]))
        again = run_tagger("once", "-c", cfg)
        assert again.returncode == 0, again.stderr[-3000:]
        assert repeated_applies(acme) == repeated_applies(globex) == {}


def test_a_promotion_on_one_account_leaves_the_other_awaiting(tmp_path: Path) -> None:
    with (
        Simulator(SimulatorConfig(seed=73, messages=150)) as acme,
        Simulator(SimulatorConfig(seed=74, messages=150)) as globex,
    ):
        cfg = str(
            write_config(
                tmp_path,
                acme,
                rules=[HYGIENE],
                accounts=_accounts(acme, globex),
                rollout="audit-first",
            )
        )
        shared = _only(load_rules([SECURITY]), SHARED_RULE)
        want_acme = expected_pairs(acme, shared)
        assert want_acme and expected_pairs(globex, shared), "the rule must match on both"

        first = run_tagger("once", "-c", cfg)
        assert first.returncode == 0, first.stderr[-3000:]
        assert applied_pairs(acme) == applied_pairs(globex) == set()

        # A rule of the other account's set only is unknown to this one, with its files named.
        wrong = run_tagger("promote", "legal-finance-attachments", "--account", "acme", "--yes",
                           "-c", cfg)  # fmt: skip
        assert wrong.returncode == 2
        assert "unknown rule 'legal-finance-attachments'" in wrong.stderr
        assert "the rules of account acme" in wrong.stderr
        typo = run_tagger("promote", SHARED_RULE, "--account", "acme-corp", "--yes", "-c", cfg)
        assert typo.returncode == 2 and "unknown account 'acme-corp'" in typo.stderr

        promoted = run_tagger("promote", SHARED_RULE, "--account", "acme", "--yes", "-c", cfg)
        assert promoted.returncode == 0, promoted.stderr
        assert "on 1 account (acme)" in promoted.stdout

        status = json.loads(run_tagger("status", "--json", "-c", cfg).stdout)["accounts"]
        assert SHARED_RULE not in status["acme"]["rules"]["awaiting_promotion"]
        assert SHARED_RULE in status["globex"]["rules"]["awaiting_promotion"]

        second = run_tagger("once", "-c", cfg)
        assert second.returncode == 0, second.stderr[-3000:]
        # acme applies the promoted rule's tags (its held pairs included); globex nothing.
        assert applied_pairs(acme) == want_acme
        assert applied_pairs(globex) == set()

        # Without --account: every account whose set holds the rule.
        everywhere = run_tagger("promote", SHARED_RULE, "--yes", "-c", cfg)
        assert everywhere.returncode == 0, everywhere.stderr
        assert "on 1 account (globex)" in everywhere.stdout
        third = run_tagger("once", "-c", cfg)
        assert third.returncode == 0, third.stderr[-3000:]
        assert applied_pairs(globex) == expected_pairs(globex, shared)
        assert applied_pairs(acme) == want_acme
        assert repeated_applies(acme) == repeated_applies(globex) == {}


def test_pause_and_resume_take_an_account(tmp_path: Path) -> None:
    with (
        Simulator(SimulatorConfig(seed=75, messages=10)) as acme,
        Simulator(SimulatorConfig(seed=76, messages=10)) as globex,
    ):
        cfg = str(write_config(tmp_path, acme, rules=[HYGIENE], accounts=_accounts(acme, globex)))
        # A rule of the top-level set only: acme runs it, globex replaced it.
        paused = run_tagger("pause", "greymail-bulk", "--wait", "0", "-c", cfg)
        assert paused.returncode == 0, paused.stderr
        assert "paused on 1 account (acme)" in paused.stdout
        shared = run_tagger("pause", SHARED_RULE, "--account", "globex", "--wait", "0", "-c", cfg)
        assert shared.returncode == 0, shared.stderr
        assert "paused on 1 account (globex)" in shared.stdout
        status = json.loads(run_tagger("status", "--json", "-c", cfg).stdout)
        assert sorted(status["paused_rules"]) == [
            "greymail-bulk (acme)",
            f"{SHARED_RULE} (globex)",
        ]
        other = run_tagger("resume", SHARED_RULE, "--account", "acme", "--yes", "-c", cfg)
        assert other.returncode == 1
        assert "is not paused on account acme" in other.stderr
        resumed = run_tagger("resume", SHARED_RULE, "--account", "globex", "--yes", "-c", cfg)
        assert resumed.returncode == 0, resumed.stderr
        assert "resumed on 1 account" in resumed.stdout
        status = json.loads(run_tagger("status", "--json", "-c", cfg).stdout)
        assert status["paused_rules"] == ["greymail-bulk (acme)"]


BROKEN = """\
rules:
  - id: broken
    description: a rule with a misspelt key
    priorty: 5
    match: {field: subject, contains: x}
    tags: [Review/Needs triage]
"""


def test_a_broken_account_rule_file_rejects_the_reload(tmp_path: Path) -> None:
    with (
        Simulator(SimulatorConfig(seed=77, messages=40)) as acme,
        Simulator(SimulatorConfig(seed=78, messages=40)) as globex,
    ):
        own = tmp_path / "globex.yaml"
        own.write_text(COMPLIANCE.read_text(encoding="utf-8"), encoding="utf-8")
        shutil.copytree(RULES_DIR / "fixtures", tmp_path / "fixtures")
        accounts = _accounts(acme, globex)
        accounts[1]["rules"] = [str(own)]
        path = write_config(tmp_path, acme, rules=[HYGIENE], accounts=accounts)
        globex_rules = load_rules([own])
        daemon = Running("run", "-c", str(path))
        try:
            wait_until(
                lambda: applied_pairs(globex) == expected_pairs(globex, globex_rules) != set(),
                30,
                "the first cycle of globex",
            )
            own.write_text(BROKEN, encoding="utf-8")
            daemon.signal(signal.SIGHUP)
            rejected = daemon.wait_event("reload_rejected")[0]
            located = " ".join(rejected["problems"])
            assert f"{own}:4" in located and "priorty" in located, rejected
            assert "account globex" in located, rejected

            # The previous rules keep running on new mail of both accounts.
            new = {m.id for m in globex.add_messages(30)}
            want = {p for p in expected_pairs(globex, globex_rules) if p[0] in new}
            assert want
            wait_until(lambda: applied_pairs(globex) >= want, 30, "old rules on new mail")
            status = run_tagger("status", "--json", "-c", str(path))
            assert json.loads(status.stdout)["last_reload"]["ok"] is False
        finally:
            assert daemon.stop() == 0, daemon.stderr
        assert repeated_applies(acme) == repeated_applies(globex) == {}
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert config["accounts"][1]["rules_mode"] == "replace"


def _version_6_state(path: Path, promoted: list[tuple[str, str]]) -> None:
    """Write a state file at schema version 6 holding ``promoted`` (rule id, hash) pairs."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert migrate(conn, path, MIGRATIONS[:6]) == 6
        with conn:
            conn.executemany(
                "INSERT INTO promotions (rule_id, content_hash, promoted_at) VALUES (?, ?, 0)",
                promoted,
            )


def test_promotions_of_a_version_6_state_hold_on_every_account(tmp_path: Path) -> None:
    shared = load_rules([SECURITY]).get(SHARED_RULE)
    assert shared is not None
    _version_6_state(tmp_path / "state.db", [(shared.id, shared.content_hash)])
    with (
        Simulator(SimulatorConfig(seed=79, messages=150)) as acme,
        Simulator(SimulatorConfig(seed=80, messages=150)) as globex,
    ):
        cfg = str(
            write_config(
                tmp_path,
                acme,
                rules=[HYGIENE],
                accounts=_accounts(acme, globex),
                rollout="audit-first",
            )
        )
        only = _only(load_rules([SECURITY]), SHARED_RULE)
        want = (expected_pairs(acme, only), expected_pairs(globex, only))
        assert all(want), "the rule must match on both accounts"
        done = run_tagger("once", "-c", cfg)
        assert done.returncode == 0, done.stderr[-3000:]
        # Promoted before the upgrade: it applies on both; every other rule still audits.
        assert (applied_pairs(acme), applied_pairs(globex)) == want
    with contextlib.closing(sqlite3.connect(tmp_path / "state.db")) as conn:
        (version,) = conn.execute("SELECT version FROM schema_version").fetchone()
        rows = conn.execute("SELECT rule_id, account FROM promotions").fetchall()
    assert version == MIGRATIONS[-1].version == 7
    assert rows == [(SHARED_RULE, "")]
