"""What `tagger init` writes for a service install (pure transforms of the shipped files)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tagger.cli.install import CREDENTIAL, ShippedFileChanged, config_text, unit_text

ROOT = Path(__file__).resolve().parents[2]
CONFIG = (ROOT / "config.example.yaml").read_text(encoding="utf-8")
UNIT = (ROOT / "systemd" / "tagger.service").read_text(encoding="utf-8")


def settings(text: str, key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(f"{key}=")]


def test_the_service_config_holds_no_secret_and_writes_to_the_state_directory() -> None:
    data = yaml.safe_load(config_text(CONFIG))
    assert data["accounts"][0]["credentials"]["client_secret"] == {"credential": CREDENTIAL}
    assert data["state_path"] == {"state_directory": "state.db"}
    assert data["audit"]["path"] == {"state_directory": "audit/audit.jsonl"}
    assert "tagger-demo-secret-not-real" not in config_text(CONFIG)


def test_the_unit_runs_this_tagger_on_the_written_config() -> None:
    entry = Path("/opt/tagger/bin/tagger")
    etc = unit_text(UNIT, config_dir=Path("/etc/tagger"), entry=entry)
    assert settings(etc, "ExecStart") == [f"{entry} run -c /etc/tagger/config.yaml"]
    assert settings(etc, "ConfigurationDirectory") == ["tagger"]
    assert settings(etc, "LoadCredential") == [f"{CREDENTIAL}:/etc/tagger/credentials/{CREDENTIAL}"]
    elsewhere = unit_text(UNIT, config_dir=Path("/srv/tagger-site"), entry=entry)
    assert settings(elsewhere, "ExecStart") == [f"{entry} run -c /srv/tagger-site/config.yaml"]
    assert settings(elsewhere, "ConfigurationDirectory") == []  # systemd manages /etc only
    assert settings(elsewhere, "ConfigurationDirectoryMode") == []
    assert "/etc/tagger" not in elsewhere
    assert settings(elsewhere, "StateDirectory") == ["tagger"]


def test_a_shipped_file_without_the_lines_init_adapts_is_refused() -> None:
    with pytest.raises(ShippedFileChanged, match="state_path"):
        config_text(CONFIG.replace("state_path: ./state/tagger.db\n", ""))
    with pytest.raises(ShippedFileChanged, match="ExecStart"):
        unit_text(UNIT.replace("ExecStart=", "#ExecStart="), config_dir=Path("/x"), entry=Path("t"))


def test_init_force_never_replaces_a_secret_and_keeps_an_existing_folders_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tagger.cli.main import main

    site = tmp_path / "site"
    site.mkdir(mode=0o750)
    site.chmod(0o750)
    assert main(["init", str(site)]) == 0
    assert site.stat().st_mode & 0o777 == 0o750  # the operator's folder keeps its mode
    secret = site / "credentials" / CREDENTIAL
    assert secret.stat().st_mode & 0o777 == 0o600
    assert (site / "credentials").stat().st_mode & 0o777 == 0o700
    secret.write_text("the-real-secret\n", encoding="utf-8")
    assert main(["init", str(site)]) == 2  # nothing over existing files
    assert main(["init", "--force", str(site)]) == 0
    assert secret.read_text(encoding="utf-8") == "the-real-secret\n"
    assert "an existing secret is never overwritten" in capsys.readouterr().out
