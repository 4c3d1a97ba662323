"""One validation path: ``validate`` refuses exactly the configuration files ``run`` refuses.

Checks that used to be made only when the daemon started (the metrics
listener's address, a CA bundle that holds no certificate) are made by the
loader every command shares, each with its file:line:column.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import certifi
import pytest

from tagger.cli.main import main
from tests.support.config import ENV, MINIMAL, write_config
from tests.support.rules import RULES_DIR

METRICS = "metrics:\n  enabled: true\n  host: 0.0.0.0\n  port: 9464\n"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("TAGGER_CONFIG", raising=False)


# Nothing may go out to the network: a closed port on loopback, never a real region.
BASE = MINIMAL.replace("region: uk", "base_url: http://127.0.0.1:9").replace(
    "rules/*.yaml", str(RULES_DIR / "*.yaml")
)


def config(tmp_path: Path, extra: str) -> str:
    return str(write_config(tmp_path, BASE + extra))


@pytest.mark.parametrize("command", ["validate", "run", "once"])
def test_a_remote_metrics_host_is_refused_by_every_command_located(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    path = config(tmp_path, METRICS)
    code, out = run(capsys, command, "-c", path)
    assert code == 2, out
    assert f"{path}:11:9: error: metrics listener on 0.0.0.0 would be reachable" in out
    assert "[metrics.host]" in out and "<input>" not in out


def test_validate_with_rule_paths_still_checks_the_named_config(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out = run(capsys, "validate", "-c", config(tmp_path, METRICS), str(RULES_DIR))
    assert code == 2 and "metrics listener on 0.0.0.0" in out


def test_allow_remote_makes_a_remote_host_valid(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    extra = METRICS + "  allow_remote: true\n"
    code, out = run(capsys, "validate", "-c", config(tmp_path, extra))
    assert code == 0, out


def test_a_junk_ca_bundle_is_refused_by_validate_as_run_would(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    base = "    base_url: http://127.0.0.1:9\n"
    path = str(write_config(tmp_path, BASE.replace(base, base + "    ca_bundle: junk.pem\n")))
    code, out = run(capsys, "validate", "-c", path)
    assert code == 2 and f"{path}:4:16: error: CA bundle junk.pem holds no usable CA" in out
    shutil.copy(certifi.where(), tmp_path / "junk.pem")
    code, out = run(capsys, "validate", "-c", path)
    assert code == 0, out
