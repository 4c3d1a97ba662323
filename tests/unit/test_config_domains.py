"""Account ``domains``/``search_scope``, regions (Canada) and tracking-data look-back warnings."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from tagger.config.domains import DomainError, check_domain
from tagger.mimecast.regions import REGIONS_V1, resolve_base_url
from tagger.mimecast.retention import (
    TRACKING_RETENTION,
    beyond_tracking,
    retention_note,
    warn_long_lookbacks,
)
from tests.support.config import MINIMAL, load, one_problem, problems

ACCOUNT_1_0 = """\
accounts:
  - name: main
    api_version: "1.0"
    region: {region}
    credentials:
      access_key: ak
      secret_key: c2VjcmV0LWtleQ==
      app_id: app
      app_key: {{env: TEST_SECRET}}
rules:
  - rules/*.yaml
"""


def with_account_lines(extra: str) -> str:
    """Return the minimal config with ``extra`` (account-level YAML lines) added."""
    return MINIMAL.replace("    region: uk\n", "    region: uk\n" + extra)


# --- domains and search_scope -------------------------------------------------------


def test_domains_are_normalised_and_default_scope_is_auto(tmp_path: Path) -> None:
    config = load(tmp_path, with_account_lines("    domains: [Example.COM, 'corp.example.com.']\n"))
    account = config.accounts[0]
    assert account.domains == ("example.com", "corp.example.com")
    assert account.search_scope == "auto"


def test_no_domains_by_default(tmp_path: Path) -> None:
    account = load(tmp_path, MINIMAL).accounts[0]
    assert (account.domains, account.search_scope) == ((), "auto")


def test_search_scope_domains_is_kept(tmp_path: Path) -> None:
    text = with_account_lines("    domains: [example.com]\n    search_scope: domains\n")
    assert load(tmp_path, text).accounts[0].search_scope == "domains"


def test_search_scope_domains_needs_domains(tmp_path: Path) -> None:
    problem = one_problem(tmp_path, with_account_lines("    search_scope: domains\n"))
    assert problem.path == "accounts[0].search_scope"
    assert "needs the account's domains" in problem.message
    assert (problem.line, problem.column) == (4, 19)


def test_unknown_search_scope_is_a_schema_error(tmp_path: Path) -> None:
    problem = one_problem(tmp_path, with_account_lines("    search_scope: always\n"))
    assert problem.path == "accounts[0].search_scope"


@pytest.mark.parametrize(
    ("value", "message", "hint"),
    [
        ("'@example.com'", "starts with '@'", "did you mean 'example.com'?"),
        ("john@example.com", "is a mail address", "did you mean 'example.com'?"),
        ("https://example.com/x", "is a URL", "did you mean 'example.com'?"),
        ("'*.example.com'", "wildcards are not supported", "example.com"),
        ("localhost", "not a valid domain name", "at least one dot"),
        ("exa_mple.com", "not a valid domain name", ""),
        ("-bad.example.com", "not a valid domain name", ""),
    ],
)
def test_a_bad_domain_is_located_with_a_hint(
    tmp_path: Path, value: str, message: str, hint: str
) -> None:
    text = with_account_lines(f"    domains:\n      - example.org\n      - {value}\n")
    problem = one_problem(tmp_path, text)
    assert problem.path == "accounts[0].domains[1]"
    assert (problem.line, problem.column) == (6, 9)
    assert message in problem.message
    assert hint in problem.hint


def test_every_bad_domain_is_reported_at_once(tmp_path: Path) -> None:
    text = with_account_lines("    domains: [a, example.com, EXAMPLE.com, b@c]\n")
    found = problems(tmp_path, text)
    assert [p.path for p in found] == [
        "accounts[0].domains[0]",
        "accounts[0].domains[2]",
        "accounts[0].domains[3]",
    ]
    assert "listed twice" in found[1].message and "domains[1]" in found[1].hint


def test_a_domain_that_is_not_a_string_is_a_schema_error(tmp_path: Path) -> None:
    problem = one_problem(tmp_path, with_account_lines("    domains: [42]\n"))
    assert problem.path == "accounts[0].domains[0]"


def test_international_domains_become_punycode() -> None:
    assert check_domain("bücher.example") == "xn--bcher-kva.example"
    with pytest.raises(DomainError):
        check_domain("a" * 64 + ".com")


# --- regions ---------------------------------------------------------------------------


def test_canada_is_an_api_1_0_region(tmp_path: Path) -> None:
    assert REGIONS_V1["ca"] == "https://ca-api.mimecast.com"
    assert resolve_base_url("CA", "1.0") == "https://ca-api.mimecast.com"
    config = load(tmp_path, ACCOUNT_1_0.format(region="ca"))
    assert config.accounts[0].settings.base_url == "https://ca-api.mimecast.com"


def test_an_api_1_0_region_under_api_2_0_says_so(tmp_path: Path) -> None:
    problem = one_problem(tmp_path, MINIMAL.replace("region: uk", "region: ca"))
    assert problem.path == "accounts[0].region"
    assert "'ca' is an API 1.0 region; for API 2.0 use global" in problem.message
    with pytest.raises(ValueError, match=r"'global' is an API 2\.0 region"):
        resolve_base_url("global", "1.0")


@pytest.mark.parametrize(
    "url", ["https://ca-api.services.mimecast.com", "https://mimecast.proxy.example.ca:8443/api"]
)
def test_any_full_https_url_is_allowed(url: str) -> None:
    assert resolve_base_url(url, "2.0") == url
    assert resolve_base_url(url, "1.0") == url


def test_plain_http_stays_refused_for_a_remote_canadian_host() -> None:
    with pytest.raises(ValueError, match="only https is allowed"):
        resolve_base_url("http://ca-api.mimecast.com", "1.0")


# --- tracking data lasts about 30 days -------------------------------------------------


def test_the_tracking_limit_is_thirty_days() -> None:
    assert timedelta(days=30) == TRACKING_RETENTION
    assert beyond_tracking(timedelta(days=45))
    assert not beyond_tracking(timedelta(days=20))
    assert not beyond_tracking(timedelta(days=30))
    assert "45 days back" in retention_note("--since", timedelta(days=45))


@pytest.mark.parametrize(("lookback", "warned"), [("45d", True), ("20d", False)])
def test_a_long_initial_lookback_is_a_located_warning(
    tmp_path: Path, lookback: str, warned: bool
) -> None:
    config = load(tmp_path, MINIMAL + f"window:\n  initial_lookback: {lookback}\n")
    found = [w for w in config.warnings if w.path == "window.initial_lookback"]
    assert bool(found) is warned
    if warned:
        assert "will return nothing" in found[0].message
        assert found[0].line == 10


@pytest.mark.parametrize(("days", "warned"), [(45, True), (20, False)])
def test_long_lookbacks_are_logged(days: int, warned: bool) -> None:
    with capture_logs() as logs:
        notes = warn_long_lookbacks(timedelta(days=days), [("r1", timedelta(days=days))])
    events = [e for e in logs if e["event"] == "lookback_beyond_tracking_data"]
    assert len(events) == (2 if warned else 0)
    assert len(notes) == len(events)
    if warned:
        assert events[0]["log_level"] == "warning"
        assert events[1]["rule"] == "r1"
