"""Secrets by reference: env, file, systemd credential; never leaked; permission warning."""

from __future__ import annotations

from pathlib import Path

import structlog

from tagger.config import load_config
from tests.support.config import ENV, MINIMAL, load, one_problem, write_config

SECRET = ENV["TEST_SECRET"]


def with_secret(reference: str) -> str:
    return MINIMAL.replace("{env: TEST_SECRET}", reference)


def secret_of(config_text: str, tmp_path: Path, env: dict[str, str]) -> str:
    config = load(tmp_path, config_text, env)
    return config.accounts[0].secret_values()[0]


def test_env_secret_is_read_and_never_shown(tmp_path: Path) -> None:
    config = load(tmp_path, MINIMAL)
    assert config.accounts[0].secret_values() == (SECRET,)
    for text in (repr(config), str(config), repr(config.accounts), str(config.accounts[0])):
        assert SECRET not in text
    assert SECRET not in repr(config.accounts[0].settings)


def test_missing_env_variable_is_located_and_named(tmp_path: Path) -> None:
    problem = one_problem(tmp_path, MINIMAL, env={})
    assert problem.message == "environment variable TEST_SECRET is not set"
    assert (problem.line, problem.column) == (6, 22)
    assert problem.path == "accounts[0].credentials.client_secret"


def test_secret_file_is_read_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("from-a-file\n")
    assert secret_of(with_secret("{file: secret.txt}"), tmp_path, {}) == "from-a-file"


def test_unreadable_secret_files_are_located_without_contents(tmp_path: Path) -> None:
    problem = one_problem(tmp_path, with_secret("{file: missing.txt}"), env={})
    assert problem.message.startswith("secret file missing.txt does not exist")
    assert problem.path == "accounts[0].credentials.client_secret"
    (tmp_path / "adir").mkdir()
    problem = one_problem(tmp_path, with_secret("{file: adir}"), env={})
    assert problem.message.startswith("cannot read secret file adir")
    (tmp_path / "empty.txt").write_text("\n")
    assert "is empty" in one_problem(tmp_path, with_secret("{file: empty.txt}"), env={}).message
    (tmp_path / "latin.txt").write_bytes(b"caf\xe9-secret")
    problem = one_problem(tmp_path, with_secret("{file: latin.txt}"), env={})
    assert "not UTF-8" in problem.message and "caf" not in problem.message


def test_systemd_credential_is_read_from_credentials_directory(tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "mimecast_secret").write_text("from-systemd")
    env = {"CREDENTIALS_DIRECTORY": str(creds)}
    assert secret_of(with_secret("{credential: mimecast_secret}"), tmp_path, env) == "from-systemd"
    problem = one_problem(tmp_path, with_secret("{credential: other}"), env=env)
    assert problem.message.startswith("systemd credential 'other' does not exist")
    problem = one_problem(tmp_path, with_secret("{credential: mimecast_secret}"), env={})
    assert "CREDENTIALS_DIRECTORY is not set" in problem.message
    assert str(tmp_path / "credentials" / "mimecast_secret") in problem.message
    assert f"LoadCredential=mimecast_secret:{tmp_path}/credentials/mimecast_secret" in problem.hint


def test_credential_is_read_beside_the_config_outside_systemd(tmp_path: Path) -> None:
    # The file the unit's LoadCredential= names: commands run by hand read it directly.
    (tmp_path / "credentials").mkdir()
    (tmp_path / "credentials" / "mimecast_secret").write_text("by-hand\n")
    text = with_secret("{credential: mimecast_secret}")
    assert secret_of(text, tmp_path, {}) == "by-hand"
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "mimecast_secret").write_text("from-systemd")
    # Under systemd, only $CREDENTIALS_DIRECTORY counts.
    assert secret_of(text, tmp_path, {"CREDENTIALS_DIRECTORY": str(creds)}) == "from-systemd"


def test_credential_names_cannot_escape_the_directory(tmp_path: Path) -> None:
    problem = one_problem(tmp_path, with_secret("{credential: ../etc/passwd}"), env={})
    assert problem.message.startswith("must be a systemd credential name")


def test_misspelt_reference_kind_gets_did_you_mean(tmp_path: Path) -> None:
    problem = one_problem(tmp_path, with_secret("{evn: TEST_SECRET}"))
    assert (problem.message, problem.hint) == ("unknown key 'evn'", "did you mean 'env'?")
    problem = one_problem(tmp_path, with_secret("12345"))
    assert problem.message == "expected a string or a mapping, got integer 12345"


def test_world_readable_file_with_inline_secret_warns(tmp_path: Path) -> None:
    text = with_secret("inline-secret-value")
    path = write_config(tmp_path, text, mode=0o644)
    with structlog.testing.capture_logs() as logs:
        config = load_config(path, env={})
    (warning,) = config.warnings
    assert warning.severity == "warning"
    assert warning.path == "accounts[0].credentials.client_secret"
    assert (warning.line, warning.column) == (6, 22)
    assert "0644" in warning.message and "inline-secret-value" not in str(warning)
    assert [entry["event"] for entry in logs] == ["config_inline_secret_readable"]
    assert "inline-secret-value" not in repr(logs)


def test_private_file_or_referenced_secret_does_not_warn(tmp_path: Path) -> None:
    path = write_config(tmp_path, with_secret("inline-secret-value"), mode=0o600)
    assert load_config(path, env={}).warnings == ()
    path = write_config(tmp_path, MINIMAL, mode=0o644)
    assert load_config(path, env=ENV).warnings == ()


def test_a_secret_names_exactly_one_source(tmp_path: Path) -> None:
    problem = one_problem(tmp_path, with_secret("{env: TEST_SECRET, file: x}"))
    assert problem.message == "give exactly one of env, file or credential"
    assert problem.path == "accounts[0].credentials.client_secret"
