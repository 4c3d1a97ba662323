"""An installed wheel's ``tagger init`` makes an install the shipped unit runs as-is.

The wheel goes into a fresh virtual environment in a directory any user can
read; ``tagger init`` writes into ``ROOT/etc/tagger``. Then what systemd does
for the written unit is done by hand: the ``LoadCredential=`` files are
copied into a credentials directory owned by a throwaway uid
(``$CREDENTIALS_DIRECTORY``), a state directory is made for it
(``$STATE_DIRECTORY``, ``StateDirectory=``), and the unit's ``ExecStart=``
command line runs as that uid (``setpriv``, no group, no capability) against
a simulator. It must read the config and its secret, run a cycle and write
its state and audit file under the state directory, and nothing under the
config directory. ``systemd-analyze verify`` checks the written unit where
it exists.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tagger.simulator import Simulator, SimulatorConfig
from testkit.processes import wait_until

ROOT = Path(__file__).resolve().parents[2]
# Not in /etc/passwd: what a DynamicUser= looks like to the process.
THROWAWAY_UID = 61_873

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("setpriv") is None,
        reason="needs root and setpriv to run a command as a throwaway uid",
    ),
]


def as_throwaway(*args: str | Path, env: dict[str, str], cwd: Path) -> list[str]:
    """Return the command line running ``args`` as the throwaway uid, without groups."""
    return [
        "setpriv", f"--reuid={THROWAWAY_UID}", f"--regid={THROWAWAY_UID}", "--clear-groups",
        "--inh-caps=-all", "--bounding-set=-all", "--",
        *(str(a) for a in args),
    ]  # fmt: skip


def reachable_python(env: dict[str, str], cwd: Path) -> str | None:
    """Return an interpreter of this Python version the throwaway uid can run, if any."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (os.path.realpath(sys.executable), f"/usr/bin/{version}"):
        if not Path(candidate).is_file():
            continue
        probe = subprocess.run(
            as_throwaway(candidate, "-c", "import sys", env=env, cwd=cwd),
            env=env, cwd=cwd, capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        if probe.returncode == 0:
            return candidate
    return None


@pytest.fixture(scope="module")
def public_tree() -> Iterator[Path]:
    """A temporary directory every user can enter (pytest's own are private to root)."""
    top = Path(tempfile.mkdtemp(prefix="tagger-service-"))
    top.chmod(0o755)
    yield top
    shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="module")
def service_venv(public_tree: Path) -> Path:
    """The wheel of this tree in a venv the throwaway uid can run; returns its bin dir."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TAGGER_CONFIG")}
    python = reachable_python(env, public_tree)
    if python is None:
        pytest.skip("no interpreter of this Python version is readable by an unprivileged user")
    source = public_tree / "src"
    ignore = shutil.ignore_patterns(".*", "*.egg-info", "build", "__pycache__")
    shutil.copytree(ROOT, source, ignore=ignore)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-w", str(public_tree / "dist"), str(source)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (public_tree / "dist").glob("tagger-*.whl")
    venv = public_tree / "venv"
    made = subprocess.run(
        [python, "-m", "venv", "--without-pip", str(venv)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    purelib = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    # The dependencies of the running environment (same Python version), not its tagger.
    (purelib / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    added = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "--no-deps", "--no-index", str(wheel)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert added.returncode == 0, added.stdout + added.stderr
    return venv / "bin"


def unit_settings(unit: Path, key: str) -> list[str]:
    """Return the values of every uncommented ``key=`` line of a unit file."""
    prefix = f"{key}="
    lines = unit.read_text(encoding="utf-8").splitlines()
    return [line[len(prefix) :] for line in lines if line.startswith(prefix)]


def test_init_install_runs_under_the_unit_as_an_unprivileged_user(
    service_venv: Path, public_tree: Path
) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "TAGGER_CONFIG", "NOTIFY_SOCKET", "WATCHDOG_USEC")
    }
    etc = public_tree / "etc" / "tagger"
    made = subprocess.run(
        [str(service_venv / "tagger"), "init", str(etc)],
        env=env, cwd=public_tree, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    # The next steps name the credential and the state directory.
    assert "LoadCredential=" in made.stdout and "$STATE_DIRECTORY" in made.stdout
    config, unit = etc / "config.yaml", etc / "tagger.service"
    assert config.stat().st_mode & 0o777 == 0o644
    assert "tagger-demo-secret-not-real" not in config.read_text(encoding="utf-8")
    assert (etc / "credentials").stat().st_mode & 0o777 == 0o700

    # Point the written config at this test's simulator, as an operator edits base_url.
    with Simulator(SimulatorConfig(port=0, seed=7, messages=30)) as sim:
        text = config.read_text(encoding="utf-8")
        assert text.count("base_url: http://127.0.0.1:8765") == 1
        config.write_text(text.replace("http://127.0.0.1:8765", sim.url), encoding="utf-8")

        # What systemd does for the unit: credentials and state directory for the user.
        creds = public_tree / "run" / "credentials" / "tagger.service"
        creds.mkdir(parents=True)
        loaded = unit_settings(unit, "LoadCredential")
        assert loaded, "the written unit loads no credential"
        for setting in loaded:
            name, source = setting.split(":", 1)
            shutil.copyfile(source, creds / name)
            (creds / name).chmod(0o400)
            os.chown(creds / name, THROWAWAY_UID, THROWAWAY_UID)
        creds.chmod(0o500)
        os.chown(creds, THROWAWAY_UID, THROWAWAY_UID)
        (state_name,) = unit_settings(unit, "StateDirectory")
        state = public_tree / "var" / "lib" / state_name
        state.mkdir(parents=True)
        state.chmod(0o700)
        os.chown(state, THROWAWAY_UID, THROWAWAY_UID)
        service_env = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": str(state),
            "STATE_DIRECTORY": str(state),
            "CREDENTIALS_DIRECTORY": str(creds),
            "PYTHONUNBUFFERED": "1",
        }
        (exec_start,) = unit_settings(unit, "ExecStart")
        command = shlex.split(exec_start)
        assert command[0] == str(service_venv / "tagger"), exec_start
        log = public_tree / "daemon.log"
        with log.open("w", encoding="utf-8") as out:
            daemon = subprocess.Popen(
                as_throwaway(*command, env=service_env, cwd=state),
                env=service_env, cwd=state, stdout=out, stderr=subprocess.STDOUT, text=True,
            )  # fmt: skip
            try:
                wait_until(
                    lambda: (
                        "cycle_summary" in log.read_text(encoding="utf-8")
                        or daemon.poll() is not None
                    ),
                    30,
                    "the daemon's first cycle",
                )
                assert daemon.poll() is None, log.read_text(encoding="utf-8")
                daemon.send_signal(signal.SIGTERM)
                assert daemon.wait(timeout=120) == 0, log.read_text(encoding="utf-8")
            finally:
                if daemon.poll() is None:
                    daemon.kill()
                    daemon.wait(timeout=30)
    output = log.read_text(encoding="utf-8")
    assert "Permission denied" not in output, output
    db = state / "state.db"
    assert db.is_file() and db.stat().st_uid == THROWAWAY_UID, output
    assert (state / "audit" / "audit.jsonl").is_file(), output
    assert not (etc / "state").exists()
    assert sorted(p.name for p in etc.iterdir()) == [
        "config.yaml", "credentials", "rules", "tagger.service",
    ]  # fmt: skip

    # Root reads the same state by hand (as the next steps say) with the same config.
    status = subprocess.run(
        [str(service_venv / "tagger"), "status", "-c", str(config)],
        env={**env, "STATE_DIRECTORY": str(state)},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert status.returncode == 0, status.stdout + status.stderr
    assert "demo" in status.stdout and "no state yet" not in status.stdout, status.stdout

    if shutil.which("systemd-analyze"):
        verified = subprocess.run(
            ["systemd-analyze", "verify", "--man=no", str(unit)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        problems = [line for line in verified.stderr.splitlines() if "tagger.service" in line]
        assert verified.returncode == 0 and problems == [], verified.stderr
