"""The container's health check and the Compose example's config, run for real (no Docker).

The HEALTHCHECK's shell command from the Dockerfile runs as Docker runs it
(``/bin/sh -c``, the config found through ``TAGGER_CONFIG``) against a real
state file and the simulator: unhealthy before any cycle and when the config
cannot be read, healthy after a cycle, and still healthy on a warning (the
kill switch), which no restart would mend. ``deploy/config.yaml`` passes
``tagger validate`` as it is, its ``state:`` and ``cluster:`` blocks included
(the DSN given as Compose gives it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tagger.simulator import Simulator, SimulatorConfig
from tests.support.daemon import run_tagger, write_config
from tests.support.dockerfile import healthcheck_command

ROOT = Path(__file__).resolve().parents[2]


def health(config: Path) -> subprocess.CompletedProcess[str]:
    """Run the Dockerfile's HEALTHCHECK command as Docker does; return the finished shell."""
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    env["TAGGER_CONFIG"] = str(config)
    # `tagger` as the image has it: this interpreter's entry point first on PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        ["/bin/sh", "-c", healthcheck_command()],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_health_check_follows_status_check(tmp_path: Path) -> None:
    assert shutil.which("tagger", path=str(Path(sys.executable).parent))
    with Simulator(SimulatorConfig(seed=5, messages=40)) as sim:
        schedule = {"interval": "5m", "jitter": "0s", "misfire_grace": "1m", "max_cycle": "1m"}
        cfg = write_config(tmp_path, sim, schedule=schedule)
        before = health(cfg)
        assert before.returncode == 1, before.stdout + before.stderr
        assert before.stdout.startswith("TAGGER CRITICAL - ")

        done = run_tagger("once", "-c", str(cfg))
        assert done.returncode == 0, done.stderr
        after = health(cfg)
        assert after.returncode == 0, after.stdout + after.stderr
        assert after.stdout.startswith("TAGGER OK - ")

        paused = run_tagger("pause", "--all", "--reason", "health check test", "-c", str(cfg))
        assert paused.returncode == 0, paused.stdout + paused.stderr
        warned = health(cfg)
        assert warned.stdout.startswith("TAGGER WARNING - "), warned.stdout
        assert warned.returncode == 0, "a warning is no reason to call the container unhealthy"

    unreadable = health(tmp_path / "missing.yaml")
    assert unreadable.stdout.startswith("TAGGER UNKNOWN - ")
    assert unreadable.returncode == 1


def test_the_compose_config_validates_with_its_cluster_blocks(tmp_path: Path) -> None:
    deploy = ROOT / "deploy"
    config = yaml.safe_load((deploy / "config.yaml").read_text(encoding="utf-8"))
    assert config["state"]["backend"] == "postgresql" and "lease" in config["cluster"]
    shutil.copytree(deploy / "rules", tmp_path / "rules")
    shutil.copy(deploy / "config.yaml", tmp_path / "config.yaml")
    # The Docker secret's file, where a command run by hand reads {credential:}.
    (tmp_path / "credentials").mkdir(mode=0o700)
    (tmp_path / "credentials" / "mimecast-client-secret").write_text("not-a-real-secret\n")
    done = run_tagger(
        "validate",
        "-c",
        str(tmp_path / "config.yaml"),
        env={
            "STATE_DIRECTORY": str(tmp_path / "state"),
            "CREDENTIALS_DIRECTORY": "",
            "TAGGER_DSN": "postgresql://tagger:not-the-password@postgres:5432/tagger",
        },
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "not-the-password" not in done.stdout + done.stderr
    assert "ok: 1 rule(s) in 1 file(s)" in done.stdout
