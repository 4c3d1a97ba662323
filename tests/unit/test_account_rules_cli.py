"""``validate``, ``test``, ``explain`` and ``rules`` with per-account rule sets (in process)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tagger.cli.main import main
from tests.support.rules import RULES_DIR

PHISH = str(RULES_DIR / "fixtures" / "phish-dmarc-fail.json")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _account(name: str, **more: object) -> dict[str, object]:
    return {
        "name": name,
        "base_url": "http://127.0.0.1:9",
        "credentials": {"client_id": f"{name}-id", "client_secret": "not-a-real-secret"},
        **more,
    }


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """acme: hygiene + its own security rules; globex: compliance alone (replace)."""
    monkeypatch.delenv("TAGGER_CONFIG", raising=False)
    shutil.copytree(RULES_DIR, tmp_path / "rules")
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    (tmp_path / "rules" / "security.yaml").rename(tenants / "acme.yaml")
    (tmp_path / "rules" / "compliance.yaml").rename(tenants / "globex.yaml")
    shutil.copytree(RULES_DIR / "fixtures", tenants / "fixtures")
    data = {
        "accounts": [
            _account("acme", rules=["tenants/acme.yaml"]),
            _account("globex", rules=["tenants/globex.yaml"], rules_mode="replace"),
        ],
        "rules": ["rules/*.yaml"],
        "state_path": str(tmp_path / "state.db"),
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return path


def _tags(*paths: str) -> list[dict[str, str]]:
    return [{"id": str(i), "name": p.rsplit("/", 1)[-1], "path": p} for i, p in enumerate(paths)]


def test_validate_checks_each_account_against_its_own_tags(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    code, out, _ = run(capsys, "validate", "-c", str(config))
    assert code == 0, out
    assert "account acme: 5 rules (own rules add) from rules/hygiene.yaml," in out
    assert "tenants/acme.yaml" in out
    assert "account globex: 2 rules (own rules replace) from tenants/globex.yaml" in out
    assert out.strip().splitlines()[-1].startswith("ok: 7 rule(s) in 3 file(s)")

    # acme lacks the compliance tags (globex's rules only): no problem for acme.
    acme = _tags("Bulk/Greymail", "Security/High spam delivered", "Security/Phishing",
                 "Security/Spoofing", "Security/Suspicious attachments")  # fmt: skip
    globex = _tags("Compliance/Legal")
    listing = tmp_path / "tags.json"
    listing.write_text(json.dumps({"accounts": {"acme": acme, "globex": globex}}), "utf-8")
    code, out, _ = run(capsys, "validate", "-c", str(config), "--tags-from", str(listing))
    assert code == 2, out
    errors = [line for line in out.splitlines() if ": error: " in line]
    assert len(errors) == 1, out
    assert errors[0].startswith(f"{tmp_path / 'tenants' / 'globex.yaml'}:42:")
    assert "account globex: the account has no Smart Tag 'Compliance/Outbound sensitive" in out


def test_validate_reports_a_duplicate_id_at_both_places(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    shutil.copy(tmp_path / "tenants" / "acme.yaml", tmp_path / "rules" / "again.yaml")
    code, out, _ = run(capsys, "validate", "-c", str(config))
    assert code == 2
    first = f"first defined at {tmp_path / 'rules' / 'again.yaml'}:4:"
    line = next(x for x in out.splitlines() if "duplicate rule id 'phishing-suspect'" in x)
    assert line.startswith(f"{tmp_path / 'tenants' / 'acme.yaml'}:4:")
    assert "(rules of account acme)" in line and first in line


def test_test_runs_every_accounts_examples_or_one_accounts(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    code, out, _ = run(capsys, "test", "-c", str(config))
    assert code == 0, out
    ran = {line.split(":")[0] for line in out.splitlines() if line.startswith("PASS")}
    assert any("legal-finance-attachments" in r for r in ran)
    assert any("phishing-suspect" in r for r in ran)
    code, out, _ = run(capsys, "test", "-c", str(config), "--account", "globex")
    assert code == 0
    assert "phishing-suspect" not in out and "legal-finance-attachments" in out
    code, _, err = run(capsys, "test", "-c", str(config), "--account", "globx")
    assert code == 2 and "no account named 'globx'" in err and "globex" in err


def test_explain_uses_the_accounts_rules(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, out, err = run(capsys, "explain", "--message", PHISH, "-c", str(config))
    assert code == 0
    assert "explaining with those of account acme" in err
    assert "decision: phishing-suspect" in out
    code, out, _ = run(
        capsys, "explain", "--message", PHISH, "-c", str(config), "--account", "globex"
    )
    assert code == 0
    assert "phishing-suspect" not in out and "legal-finance-attachments" in out


def test_rules_lists_each_account(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, out, _ = run(capsys, "rules", "-c", str(config))
    assert code == 0
    assert "account acme (own rules, add:" in out
    assert "account globex (own rules, replace:" in out
    globex = out.split("account globex")[1]
    assert "legal-finance-attachments" in globex and "greymail-bulk" not in globex
    code, out, _ = run(capsys, "rules", "-c", str(config), "--account", "globex", "--json")
    assert code == 0
    ids = {r["id"] for r in json.loads(out)["rules"]}
    assert ids == {"legal-finance-attachments", "outbound-sensitive-files"}


def test_rule_ids_complete_from_every_accounts_rules(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    code, out, _ = run(capsys, "completion", "--rule-ids", "-c", str(config))
    assert code == 0
    assert out.split() == sorted(
        [
            "greymail-bulk",
            "high-spam-delivered",
            "legal-finance-attachments",
            "outbound-sensitive-files",
            "phishing-suspect",
            "risky-attachment",
            "spoofed-own-domain",
        ]
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("pause", "--all", "--account", "acme"), "--account narrows a rule's pause"),
        (("resume", "--all", "--account", "acme", "--yes"), "--account narrows a rule's resume"),
        (("resume", "phishing-suspect", "--account", "acmee", "--yes"), "unknown account 'acmee'"),
        (("pause", "phishing-suspect", "--account", "globex"), "unknown rule 'phishing-suspect'"),
        (
            ("promote", "greymail-bulk", "--account", "globex", "--yes"),
            "(the rules of account globex) (the rules are: legal-finance-attachments,",
        ),
        (
            ("promote", "legal-finance-attachment", "--account", "globex", "--yes"),
            "did you mean 'legal-finance-attachments'?",
        ),
    ],
)
def test_rail_commands_refuse_a_bad_account_choice(
    capsys: pytest.CaptureFixture[str], config: Path, argv: tuple[str, ...], message: str
) -> None:
    code, _, err = run(capsys, *argv, "-c", str(config))
    assert code == 2, err
    assert message in err
