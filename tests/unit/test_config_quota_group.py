"""Which accounts share one API quota: quota_group, or the same credentials."""

from __future__ import annotations

from pathlib import Path

from tagger.config import Config
from tagger.mimecast.quota import quota_key
from tests.support.config import load, one_problem

ENV = {"SECRET": "s3cr3t-one", "OTHER": "s3cr3t-two", "ACCESS": "acc-value-1", "APPKEY": "ak"}


def _account(name: str, client_id: str = "partner-app", extra: str = "", region: str = "uk") -> str:
    return f"""\
  - name: {name}
    region: {region}
{extra}    credentials:
      client_id: {client_id}
      client_secret: {{env: SECRET}}
"""


def _config(*accounts: str) -> str:
    return "accounts:\n" + "".join(accounts) + "rules:\n  - rules/*.yaml\n"


def _keys(config: Config) -> list[str]:
    return [quota_key(a.settings) for a in config.accounts]


def test_quota_group_is_accepted(tmp_path: Path) -> None:
    text = _config(
        _account("a", "app-1", "    quota_group: msp-partner\n"),
        _account("b", "app-2", "    quota_group: msp-partner\n"),
        _account("c", "app-3"),
    )
    config = load(tmp_path, text, ENV)
    assert [a.settings.quota_group for a in config.accounts] == ["msp-partner"] * 2 + [None]
    a, b, c = _keys(config)
    assert a == b == "group:msp-partner" and c != a


def test_accounts_with_the_same_credentials_share_a_quota(tmp_path: Path) -> None:
    config = load(tmp_path, _config(_account("a"), _account("b")), ENV)
    a, b = _keys(config)
    assert a == b
    # The key is opaque: no credential in it.
    assert "partner-app" not in a and ENV["SECRET"] not in a


def test_different_credentials_do_not_share(tmp_path: Path) -> None:
    text = _config(_account("a"), _account("b", "other-app"), _account("c", region="us"))
    a, b, c = _keys(load(tmp_path, text, ENV))
    assert len({a, b, c}) == 3


def test_the_same_access_key_shares_in_api_1_0(tmp_path: Path) -> None:
    legacy = """\
  - name: {name}
    api_version: 1.0
    region: eu
    credentials:
      access_key: {{env: ACCESS}}
      secret_key: c2VjcmV0LWtleS1ieXRlcw==
      app_id: {app}
      app_key: {{env: APPKEY}}
"""
    text = _config(legacy.format(name="a", app="app-1"), legacy.format(name="b", app="app-2"))
    a, b = _keys(load(tmp_path, text, ENV))
    assert a == b


def test_an_account_without_a_group_joins_its_credentials_group(tmp_path: Path) -> None:
    text = _config(
        _account("a", extra="    quota_group: msp\n"),
        _account("b"),
        _account("c", "app-3", "    quota_group: msp\n"),
    )
    config = load(tmp_path, text, ENV)
    assert [a.settings.quota_group for a in config.accounts] == ["msp", "msp", "msp"]
    assert len(set(_keys(config))) == 1


def test_a_bad_quota_group_is_located(tmp_path: Path) -> None:
    text = _config(_account("a", extra="    quota_group: 'not a name'\n"))
    problem = one_problem(tmp_path, text, ENV)
    assert problem.path == "accounts[0].quota_group"
    assert (problem.line, problem.column) == (4, 18)
    assert "short name" in problem.message


def test_the_same_credentials_in_two_groups_is_located(tmp_path: Path) -> None:
    text = _config(
        _account("a", extra="    quota_group: one\n"),
        _account("b", extra="    quota_group: two\n"),
    )
    problem = one_problem(tmp_path, text, ENV)
    assert problem.path == "accounts[1].quota_group"
    assert problem.line == 10
    assert "accounts[0]" in problem.message and "same credentials" in problem.message
    assert ENV["SECRET"] not in str(problem) and "partner-app" not in str(problem)
