"""Shared lists with real processes: the daemon rereads them on SIGHUP (a bad one is rejected,
the old lists keep working), a list change sends its rules back to review under audit-first
(unless the list sets ``hash: false``), and validate/explain report and explain them.

The simulator's inbound mail comes from partner, law-firm and audit domains
and from newsletter subdomains (``news.techdigest.io``), so each list below
matches some of every batch of new mail.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from tagger.config import load_config
from tagger.rules import RuleSet, load_rules
from tagger.simulator import Simulator, SimulatorConfig
from tagger.simulator.vocab import AUDIT_DOMAINS, LAW_DOMAINS, PARTNER_DOMAINS
from tests.support.daemon import (
    Running,
    applied_pairs,
    audit_records,
    expected_pairs,
    repeated_applies,
    run_tagger,
    wait_until,
    write_config,
)

RULES = """\
rules:
  - id: partners
    description: mail from the domains in the partners list
    search:
      route: [inbound]
    match:
      field: sender.domain
      in_list: partners
    tags: [Review/Needs triage]
    examples:
      - name: a partner's subdomain
        summary: {id: m1, route: inbound, fromEnv: {emailAddress: j.doe@mail.globex.net}}
        expect: [Review/Needs triage]
"""
OLD = "# partners\n" + "".join(f"{d}\n" for d in (*PARTNER_DOMAINS, *LAW_DOMAINS, *AUDIT_DOMAINS))
# Parents of the newsletter senders: matched through their subdomains.
NEW = "techdigest.io\nshopdeals.com\ncloudnotify.io\nconferencehub.net\ntravelsaver.com\n"


def setup(tmp: Path, sim: Simulator, *, hash_list: bool = True, **config: Any) -> tuple[str, Path]:
    """Write the rule, the partners list (OLD) and a config declaring it; return both paths."""
    rules = tmp / "partners.yaml"
    rules.write_text(RULES, encoding="utf-8")
    listed = tmp / "partners.txt"
    listed.write_text(OLD, encoding="utf-8")
    declared: dict[str, Any] = {"kind": "domains", "path": str(listed)}
    if not hash_list:
        declared["hash"] = False
    cfg = write_config(tmp, sim, rules=[rules], lists={"partners": declared}, **config)
    return str(cfg), listed


def ruleset(cfg: str) -> RuleSet:
    config = load_config(Path(cfg))
    return load_rules(list(config.rule_paths), config.lists)


def on(pairs: set[tuple[str, str]], ids: set[str]) -> set[tuple[str, str]]:
    return {p for p in pairs if p[0] in ids}


def test_sighup_rereads_lists_rejects_a_bad_one_and_keeps_the_old(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=42, messages=40)) as sim:
        cfg, listed = setup(tmp_path, sim)
        daemon = Running("run", "-c", cfg)
        try:
            old = ruleset(cfg)
            first = expected_pairs(sim, old)
            assert first
            wait_until(lambda: applied_pairs(sim) == first, 20, "the partners' mail tagged")
            loaded = daemon.wait_event("list_loaded")[0]
            assert (loaded["list"], loaded["entries"], loaded["rules"]) == ("partners", 11, 1)

            # A malformed entry: the reload is rejected, located in the list file.
            listed.write_text(OLD + "\nsales@globex.net\n" + NEW, encoding="utf-8")
            daemon.signal(signal.SIGHUP)
            rejected = daemon.wait_event("reload_rejected")[0]
            located = " ".join(rejected["problems"])
            assert f"{listed}:14:6" in located and "is an address, not a domain" in located

            # The old list keeps deciding new mail.
            new = {m.id for m in sim.add_messages(20)}
            want = on(expected_pairs(sim, old), new)
            assert want
            wait_until(lambda: applied_pairs(sim) >= want, 20, "the old list on new mail")

            # A good list: the reload takes it, and new mail is decided by it alone.
            listed.write_text(NEW, encoding="utf-8")
            daemon.signal(signal.SIGHUP)
            daemon.wait_event("reload_done")
            newer = {m.id for m in sim.add_messages(20)}
            fresh = on(expected_pairs(sim, ruleset(cfg)), newer)
            stale = on(expected_pairs(sim, old), newer)
            assert fresh and stale and not fresh & stale
            wait_until(lambda: applied_pairs(sim) >= fresh, 20, "the new list on new mail")
            assert not applied_pairs(sim) & stale
        finally:
            assert daemon.stop() == 0, daemon.stderr
        assert repeated_applies(sim) == {}


def test_a_list_change_sends_its_rule_back_to_review_unless_the_list_opts_out(
    tmp_path: Path,
) -> None:
    for hashed in (True, False):
        where = tmp_path / f"hash-{hashed}"
        where.mkdir()
        with Simulator(SimulatorConfig(seed=7, messages=60)) as sim:
            cfg, listed = setup(where, sim, hash_list=hashed, rollout="audit-first")
            first = run_tagger("once", "-c", cfg)
            # Audit-only matches are recorded as held pairs: the cycle itself completed.
            assert first.returncode == 0, first.stderr
            assert "awaiting promotion" in first.stdout and not applied_pairs(sim)
            promoted = run_tagger("promote", "partners", "--yes", "-c", cfg)
            assert promoted.returncode == 0, promoted.stderr
            # Its sample of audit-only matches names the list entry of each.
            assert "(matched: list partners, entry '" in promoted.stdout, promoted.stdout
            assert run_tagger("once", "-c", cfg).returncode == 0
            before = expected_pairs(sim, ruleset(cfg))
            assert before and applied_pairs(sim) == before

            # The audit report names the list entry each match came from.
            records = audit_records(where / "audit.jsonl")
            explained = [r for r in records if r["rule"] == "partners" and r.get("explanation")]
            assert explained, records
            assert "list partners, entry '" in str(explained[-1]["explanation"])

            listed.write_text(OLD + NEW, encoding="utf-8")
            new = {m.id for m in sim.add_messages(30)}
            after = run_tagger("once", "-c", cfg)
            assert after.returncode == 0, after.stdout + after.stderr
            want = on(expected_pairs(sim, ruleset(cfg)), new)
            assert want
            if hashed:
                # Changed entries: the rule audits again until promoted again.
                assert "awaiting promotion" in after.stdout
                assert applied_pairs(sim) == before
            else:
                # hash: false: the change applies at once, with no review.
                assert "awaiting promotion" not in after.stdout
                assert applied_pairs(sim) >= before | want
            assert repeated_applies(sim) == {}


def test_validate_and_explain_read_the_configs_lists(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=42, messages=5)) as sim:
        cfg, listed = setup(tmp_path, sim)
        ok = run_tagger("validate", "-c", cfg)
        assert ok.returncode == 0 and "ok: 1 rule(s)" in ok.stdout, ok.stdout + ok.stderr
        tested = run_tagger("test", "-c", cfg)
        assert tested.returncode == 0 and "PASS partners" in tested.stdout, tested.stdout

        # Without the configuration the rule's list is unknown, and the error says what to do.
        alone = run_tagger("validate", str(tmp_path / "partners.yaml"), env={"TAGGER_CONFIG": ""})
        assert alone.returncode == 2
        assert "unknown list 'partners': no lists are declared" in alone.stdout
        assert "-c FILE (or $TAGGER_CONFIG" in alone.stdout

        listed.write_text("globex.net\n*.initech.io\n", encoding="utf-8")
        bad = run_tagger("validate", "-c", cfg)
        assert bad.returncode == 2
        assert f"{listed}:2:1: error: list 'partners' (domains): '*.initech.io'" in bad.stdout
        assert "write 'initech.io': subdomains always match" in bad.stdout
        # A run refuses to start on it, with the same located error, and applies nothing.
        refused = run_tagger("once", "-c", cfg)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert f"{listed}:2:1" in refused.stdout + refused.stderr
        assert not applied_pairs(sim)

        listed.unlink()
        gone = run_tagger("validate", "-c", cfg)
        assert gone.returncode == 2
        assert f"cannot read {listed}" in gone.stdout and "[lists.partners.path]" in gone.stdout

        listed.write_text("example.org\nglobex.net\n", encoding="utf-8")
        message = tmp_path / "m.json"
        message.write_text(
            '{"summary": {"id": "m1", "route": "inbound", '
            '"fromEnv": {"emailAddress": "j.doe@mail.globex.net"}}}',
            encoding="utf-8",
        )
        shown = run_tagger("explain", "-c", cfg, "--message", str(message))
        assert shown.returncode == 0, shown.stderr
        assert "✓ sender.domain in_list 'partners'" in shown.stdout
        assert f"(matched: list partners, entry 'globex.net' ({listed}:2))" in shown.stdout
