"""Loading config.yaml: values, defaults, paths and every located problem."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import certifi
import pytest

from tagger.config import DEFAULT_STATE_PATH, default_config_path, load_config
from tagger.errors import UserError
from tagger.mimecast.settings import HmacCredentials
from tests.support.config import ENV, MINIMAL, load, one_problem, problems, write_config


def test_minimal_config_gets_the_documented_defaults(tmp_path: Path) -> None:
    config = load(tmp_path, MINIMAL)
    assert config.state_path == DEFAULT_STATE_PATH
    assert config.schedule.interval == timedelta(minutes=5)
    assert config.schedule.jitter == timedelta(seconds=30)
    assert config.schedule.misfire_grace == timedelta(minutes=10)
    assert config.window.overlap == timedelta(minutes=10)
    assert config.window.ingestion_delay == timedelta(minutes=2)
    assert config.window.initial_lookback == timedelta(hours=24)
    assert config.window.split_min == timedelta(minutes=1)
    assert (config.max_failures, config.dry_run, config.audit_path) == (5, False, None)
    assert (config.logging.format, config.logging.level) == ("auto", "info")
    assert (config.metrics.enabled, config.metrics.host, config.metrics.port) == (
        False,
        "127.0.0.1",
        9464,
    )
    settings = config.account("main").settings
    assert settings.base_url == "https://uk-api.services.mimecast.com"
    assert settings.concurrency == 4
    assert config.accounts[0].secret_values() == (ENV["TEST_SECRET"],)


def test_values_durations_and_per_account_overrides(tmp_path: Path) -> None:
    text = MINIMAL.replace("    region: uk\n", "    region: uk\n    concurrency: 2\n")
    text += "concurrency: 7\nschedule: {interval: 1h30m, jitter: 90}\nwindow: {max_catchup: 2w}\n"
    config = load(tmp_path, text)
    assert config.schedule.interval == timedelta(hours=1, minutes=30)
    assert config.schedule.jitter == timedelta(seconds=90)
    assert config.window.max_catchup == timedelta(days=14)
    assert config.accounts[0].settings.concurrency == 2


def test_api_1_0_account_with_unquoted_version(tmp_path: Path) -> None:
    text = """\
    accounts:
      - name: legacy
        api_version: 1.0
        region: eu
        credentials:
          access_key: {env: ACCESS}
          secret_key: c2VjcmV0LWtleS1ieXRlcw==
          app_id: app-1
          app_key: {env: APPKEY}
    rules: [rules]
    """
    config = load(tmp_path, text, {"ACCESS": "acc-value", "APPKEY": "appkey-value"})
    settings = config.accounts[0].settings
    assert settings.api_version == "1.0"
    assert settings.base_url == "https://eu-api.mimecast.com"
    assert isinstance(settings.credentials, HmacCredentials)
    assert config.rule_paths == (tmp_path / "rules" / "one.yaml",)


def test_unknown_key_has_did_you_mean_and_exact_position(tmp_path: Path) -> None:
    problem = one_problem(tmp_path, MINIMAL + "schedule:\n  intervall: 5m\n")
    assert problem.message == "unknown key 'intervall'"
    assert problem.hint == "did you mean 'interval'?"
    assert (problem.line, problem.column, problem.path) == (10, 3, "schedule.intervall")
    assert problem.file == str(tmp_path / "config.yaml")


def test_bad_duration_is_located_at_the_value(tmp_path: Path) -> None:
    problem = one_problem(tmp_path, MINIMAL + "window:\n  overlap: 10 minutes\n")
    assert problem.message.startswith("must be a duration such as 30s")
    assert (problem.line, problem.column, problem.path) == (10, 12, "window.overlap")


def test_bad_enum_suggests_the_closest_value(tmp_path: Path) -> None:
    problem = one_problem(tmp_path, MINIMAL + "logging: {format: jsn, level: info}\n")
    assert problem.message == "must be one of: auto, json, console"
    assert problem.hint == "did you mean 'json'?"
    assert (problem.line, problem.column) == (9, 19)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = MINIMAL + "dry_run: yes please\nmax_failures: 0\nmetrics: {port: 99999}\nstat_path: x\n"
    found = problems(tmp_path, text)
    assert [(p.line, p.path) for p in found] == [
        (9, "dry_run"),
        (10, "max_failures"),
        (11, "metrics.port"),
        (12, "stat_path"),
    ]
    assert found[0].message == "expected true or false, got string 'yes please'"
    assert found[1].message == "must be at least 1, got 0"
    assert found[3].hint == "did you mean 'state_path'?"


def test_logical_checks_after_the_schema(tmp_path: Path) -> None:
    text = MINIMAL.replace("    region: uk\n", "    region: ukk\n")
    text += "  - name: main\n    base_url: http://example.com\n    credentials: {client_id: a}\n"
    text = text.replace("rules:\n  - rules/*.yaml\n", "")
    text += "rules: [rules/*.yaml, nothing/*.yml]\nschedule: {interval: 1m, jitter: 1m}\n"
    found = {(p.path, p.message) for p in problems(tmp_path, text)}
    assert any(path == "accounts[0].region" and "did you mean 'uk'" in m for path, m in found)
    assert ("accounts[1].name", "duplicate account name 'main'") in found
    assert any(path == "accounts[1].base_url" and "plain http" in m for path, m in found)
    assert ("accounts[1].credentials", "API 2.0 needs credentials.client_secret") in found
    assert any(path == "rules[1]" and "matches no files" in m for path, m in found)
    assert ("schedule.jitter", "jitter must be shorter than interval") in found


def test_region_and_base_url_are_exclusive_and_one_is_needed(tmp_path: Path) -> None:
    both = MINIMAL.replace("    region: uk\n", "    region: uk\n    base_url: https://x.test\n")
    assert one_problem(tmp_path, both).message == "give either region or base_url, not both"
    neither = MINIMAL.replace("    region: uk\n", "")
    problem = one_problem(tmp_path, neither)
    assert (problem.message, problem.line, problem.column) == ("missing region or base_url", 2, 5)


def test_credentials_of_the_other_api_version_are_refused(tmp_path: Path) -> None:
    text = MINIMAL.replace("      client_id: my-client\n", "      client_id: c\n      app_id: x\n")
    problem = one_problem(tmp_path, text)
    assert problem.message == "app_id is not used with API 2.0"
    assert problem.path == "accounts[0].credentials.app_id"


def test_bad_base64_secret_key_is_located_without_the_value(tmp_path: Path) -> None:
    text = """\
    accounts:
      - name: legacy
        api_version: "1.0"
        region: eu
        credentials: {access_key: a, secret_key: "not base64!!", app_id: b, app_key: c}
    rules: [rules/*.yaml]
    """
    problem = one_problem(tmp_path, text)
    assert problem.path == "accounts[0].credentials.secret_key"
    assert "base64" in problem.message and "not base64!!" not in str(problem)


def test_relative_paths_resolve_against_the_config_directory(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    # A real CA bundle: the file is loaded as the client would load it.
    shutil.copy(certifi.where(), tmp_path / "certs" / "ca.pem")
    text = MINIMAL.replace("    region: uk\n", "    region: uk\n    ca_bundle: certs/ca.pem\n")
    text += "state_path: var/state.db\naudit: {path: reports/}\n"
    config = load(tmp_path, text)
    assert config.state_path == tmp_path / "var" / "state.db"
    assert config.audit_path == tmp_path / "reports" / "tagger-audit.jsonl"
    assert config.accounts[0].settings.ca_bundle == str(tmp_path / "certs" / "ca.pem")
    missing = text.replace("certs/ca.pem", "certs/nope.pem")
    problem = one_problem(tmp_path, missing)
    assert problem.path == "accounts[0].ca_bundle" and "nope.pem" in problem.message


def test_a_ca_bundle_without_certificates_is_located_for_every_command(tmp_path: Path) -> None:
    (tmp_path / "junk.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n")
    text = MINIMAL.replace("    region: uk\n", "    region: uk\n    ca_bundle: junk.pem\n")
    problem = one_problem(tmp_path, text)
    assert problem.path == "accounts[0].ca_bundle" and problem.line == 4
    assert "holds no usable CA certificate" in problem.message


def test_ca_bundle_only_needs_a_bundle(tmp_path: Path) -> None:
    text = MINIMAL.replace("    region: uk\n", "    region: uk\n    ca_bundle_only: true\n")
    problem = one_problem(tmp_path, text)
    assert problem.path == "accounts[0].ca_bundle_only" and "needs ca_bundle" in problem.message


def test_yaml_syntax_error_and_unreadable_config(tmp_path: Path) -> None:
    problem = one_problem(tmp_path, MINIMAL + "schedule: [\n")
    assert problem.message.startswith("invalid YAML")
    assert (problem.line, problem.column) == (9, 11)  # where the '[' opened
    with pytest.raises(UserError, match=r"no configuration file here \(named by -c\)") as info:
        load_config(tmp_path / "absent.yaml", env={})
    assert f"`tagger init {tmp_path}`" in info.value.problems[0].hint
    with pytest.raises(UserError, match="cannot read file"):
        load_config(tmp_path, env={})  # a directory: there, but unreadable as a file
    assert one_problem(tmp_path, "# only a comment\n").message == "the configuration file is empty"


def test_default_config_path() -> None:
    assert default_config_path({}) == Path("/etc/tagger/config.yaml")
    assert default_config_path({"TAGGER_CONFIG": "/srv/t.yaml"}) == Path("/srv/t.yaml")
    assert default_config_path({"TAGGER_CONFIG": "/srv/t.yaml"}, "c.yaml") == Path("c.yaml")


def test_rule_directories_and_globs_are_sorted_and_deduplicated(tmp_path: Path) -> None:
    path = write_config(tmp_path, MINIMAL.replace("  - rules/*.yaml\n", "  - rules\n  - r*/*\n"))
    (tmp_path / "rules" / "a.yml").write_text("rules: []\n")
    (tmp_path / "rules" / "notes.txt").write_text("x\n")
    config = load_config(path, env=ENV)
    rules = tmp_path / "rules"
    assert config.rule_paths == (rules / "a.yml", rules / "one.yaml", rules / "notes.txt")


def test_single_rule_pattern_and_api_version_choices(tmp_path: Path) -> None:
    config = load(tmp_path, MINIMAL.replace("rules:\n  - rules/*.yaml\n", "rules: rules/\n"))
    assert config.rule_paths == (tmp_path / "rules" / "one.yaml",)
    problem = one_problem(tmp_path, MINIMAL.replace("rules:\n  - rules/*.yaml\n", "rules: r/\n"))
    assert (problem.path, problem.line, problem.column) == ("rules", 7, 8)
    text = MINIMAL.replace("    region: uk\n", "    region: uk\n    api_version: 3\n")
    assert one_problem(tmp_path, text).message == "must be one of: 2.0, 1.0"


def test_backlog_span_defaults_to_two_hours_and_reads_a_duration(tmp_path: Path) -> None:
    assert load(tmp_path, MINIMAL).monitor.backlog_warn_after == timedelta(hours=2)
    config = load(tmp_path, MINIMAL + "monitor: {backlog_warn_after: 1h30m}\n")
    assert config.monitor.backlog_warn_after == timedelta(hours=1, minutes=30)


def test_bad_backlog_spans_are_located_at_the_value(tmp_path: Path) -> None:
    problem = one_problem(tmp_path, MINIMAL + "monitor:\n  backlog_warn_after: two hours\n")
    assert problem.message.startswith("must be a duration such as 30s")
    assert (problem.line, problem.column, problem.path) == (10, 23, "monitor.backlog_warn_after")
    short = MINIMAL + "schedule: {interval: 10m}\nmonitor:\n  backlog_warn_after: 10m\n"
    problem = one_problem(tmp_path, short)
    assert problem.message == (
        "backlog_warn_after must be longer than schedule.interval (10m), got '10m'"
    )
    assert (problem.line, problem.column, problem.path) == (11, 23, "monitor.backlog_warn_after")
    assert "e.g. 2h" in problem.hint
    zero = one_problem(tmp_path, MINIMAL + "monitor: {backlog_warn_after: 0}\n")
    assert zero.path == "monitor.backlog_warn_after"
    assert (zero.line, zero.column) == (9, 31)
    unknown = one_problem(tmp_path, MINIMAL + "monitor: {backlog_warn: 2h}\n")
    assert unknown.path == "monitor.backlog_warn"


def test_state_directory_paths_follow_systemd_state_directory(tmp_path: Path) -> None:
    text = MINIMAL + (
        "state_path: {state_directory: tagger.db}\naudit:\n  path: {state_directory: audit/}\n"
    )
    under_systemd = load(tmp_path, text, {**ENV, "STATE_DIRECTORY": "/srv/st:/srv/other"})
    assert under_systemd.state_path == Path("/srv/st/tagger.db")
    assert under_systemd.audit_path == Path("/srv/st/audit/tagger-audit.jsonl")
    by_hand = load(tmp_path, text)
    assert by_hand.state_path == Path("/var/lib/tagger/tagger.db")
    # The default is the state directory's state.db.
    assert load(tmp_path, MINIMAL, {**ENV, "STATE_DIRECTORY": "/srv/st"}).state_path == Path(
        "/srv/st/state.db"
    )


def test_state_directory_path_must_be_relative(tmp_path: Path) -> None:
    problem = one_problem(tmp_path, MINIMAL + "state_path: {state_directory: /etc/x.db}\n")
    assert problem.path == "state_path.state_directory", problem
