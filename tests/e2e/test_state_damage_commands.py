"""One damaged byte in the schema text never crashes a command.

A real state file written by `tagger once` against the simulator gets one
byte of a table's name in `sqlite_master` made invalid UTF-8 (which used to
end every command but `recover-state` with a UnicodeDecodeError traceback).
Every command of the CLI is run against it: those that read the state exit 1
with the file named and the `tagger recover-state` hint, `status --check`
exits 3 (Nagios UNKNOWN), `pause --all` still sets the kill switch (its file
beside the state), and those that do not read the state work as usual.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tagger import exitcodes
from tagger.cli.main import build_parser
from tagger.simulator import Simulator, SimulatorConfig
from tagger.state.pausefile import pause_file
from tests.support.daemon import run_tagger, write_config
from tests.support.state import damage_schema_text

# Every command that reads the state: its arguments and its exit code.
READS_STATE: dict[str, tuple[tuple[str, ...], int]] = {
    "run": (("run",), exitcodes.FAILURE),
    "once": (("once",), exitcodes.FAILURE),
    "once --dry-run": (("once", "--dry-run"), exitcodes.FAILURE),
    "backfill": (("backfill", "--since", "2h"), exitcodes.FAILURE),
    "status": (("status",), exitcodes.FAILURE),
    "status --json": (("status", "--json"), exitcodes.FAILURE),
    "resume --all": (("resume", "--all"), exitcodes.FAILURE),
    "resume RULE": (("resume", "phishing-suspect"), exitcodes.FAILURE),
    "promote": (("promote", "phishing-suspect", "--yes"), exitcodes.FAILURE),
    "rules": (("rules",), exitcodes.FAILURE),
}
# Commands with the config that never read the state: they work as usual.
NO_STATE: dict[str, tuple[str, ...]] = {
    "validate": ("validate",),
    "test": ("test",),
    "tags": ("tags",),
    "fetch": ("fetch", "--id", "{message}"),
    "explain": ("explain", "--id", "{message}"),
    "report": ("report", "{dir}/audit.jsonl"),
}
# Commands without a config, so without a state; shown working on their own.
WITHOUT_CONFIG: dict[str, tuple[str, ...]] = {
    "init": ("init", "{dir}/skeleton"),
    "completion": ("completion", "bash"),
    "manpage": ("manpage",),
    "fields": ("fields", "dmarc"),
    "help": ("help", "rules"),
}
# Tested elsewhere, and no state of ours is near them: the simulator serves
# until stopped (tests/integration/test_simulator_process.py) and the demo
# makes its own state in a temporary folder (tests/e2e/test_cli_output.py).
# import-state needs a PostgreSQL ledger: its damaged file is refused in
# tests/e2e/test_pg_once.py. claims reads only a PostgreSQL ledger (the cluster's
# claims): with a SQLite file it says so (tests/e2e/test_cluster_in_doubt.py).
ELSEWHERE = {"simulate", "demo", "import-state", "claims"}
SPECIAL = {"status --check", "pause --all", "recover-state"}


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Simulator, Path]]:
    """A simulator and a folder holding a real state file with a damaged schema text."""
    base = tmp_path_factory.mktemp("damaged")
    with Simulator(SimulatorConfig(seed=23, messages=60)) as sim:
        write_config(base, sim)
        done = run_tagger("once", "-c", str(base / "config.yaml"))
        assert done.returncode == 0, done.stderr
        damage_schema_text(base / "state.db")
        yield sim, base


def _copy(damaged: tuple[Simulator, Path], into: Path) -> tuple[str, Path]:
    """Copy the damaged state (and its marker) into ``into`` with a config; return both."""
    sim, base = damaged
    cfg = write_config(into, sim)
    for name in ("state.db", "state.db.ran", "audit.jsonl"):
        shutil.copy2(base / name, into / name)
    return str(cfg), into / "state.db"


def _fill(args: tuple[str, ...], sim: Simulator, folder: Path) -> list[str]:
    message = sim.messages()[0].id
    return [a.format(message=message, dir=folder) for a in args]


def _assert_located(stderr: str, state: Path) -> None:
    assert "Traceback" not in stderr, stderr
    assert str(state) in stderr and "tagger recover-state" in stderr, stderr
    assert "damaged" in stderr, stderr


def test_every_command_of_the_cli_is_covered() -> None:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    covered = {name.split()[0] for name in (*READS_STATE, *NO_STATE, *SPECIAL)}
    covered |= set(WITHOUT_CONFIG) | ELSEWHERE
    assert covered == set(sub.choices), set(sub.choices) ^ covered


@pytest.mark.parametrize("name", sorted(READS_STATE))
def test_a_command_reading_the_state_names_it_and_the_fix(
    name: str, damaged: tuple[Simulator, Path], tmp_path: Path
) -> None:
    cfg, state = _copy(damaged, tmp_path)
    args, code = READS_STATE[name]
    before = len(damaged[0].applied())
    done = run_tagger(*args, "-c", cfg, timeout=60)
    assert done.returncode == code, (done.stdout, done.stderr)
    _assert_located(done.stderr, state)
    assert len(damaged[0].applied()) == before


@pytest.mark.parametrize("name", sorted(NO_STATE))
def test_a_command_not_reading_the_state_works(
    name: str, damaged: tuple[Simulator, Path], tmp_path: Path
) -> None:
    cfg, _state = _copy(damaged, tmp_path)
    done = run_tagger(*_fill(NO_STATE[name], damaged[0], tmp_path), "-c", cfg, timeout=60)
    assert done.returncode == exitcodes.OK, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("name", sorted(WITHOUT_CONFIG))
def test_a_command_without_a_config_works(
    name: str, damaged: tuple[Simulator, Path], tmp_path: Path
) -> None:
    done = run_tagger(*_fill(WITHOUT_CONFIG[name], damaged[0], tmp_path))
    assert done.returncode == exitcodes.OK, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr


def test_status_check_is_unknown(damaged: tuple[Simulator, Path], tmp_path: Path) -> None:
    cfg, state = _copy(damaged, tmp_path)
    done = run_tagger("status", "--check", "-c", cfg)
    assert done.returncode == exitcodes.NAGIOS_UNKNOWN, (done.stdout, done.stderr)
    (line,) = done.stdout.splitlines()
    assert line.startswith("TAGGER UNKNOWN - "), line
    _assert_located(line, state)


def test_pause_all_sets_the_kill_switch_and_once_honours_it_after_recovery(
    damaged: tuple[Simulator, Path], tmp_path: Path
) -> None:
    cfg, state = _copy(damaged, tmp_path)
    paused = run_tagger("pause", "--all", "-c", cfg)
    assert paused.returncode == exitcodes.OK, paused.stderr
    assert "every apply is paused" in paused.stdout
    assert "Traceback" not in paused.stderr and "tagger recover-state" in paused.stderr
    assert pause_file(state).exists()

    # The switch outlives the damaged file: after recovery (a fresh state, no
    # switch row in it) nothing is applied to mail no run has seen.
    recovered = run_tagger("recover-state", "-c", cfg)
    assert recovered.returncode == exitcodes.OK, recovered.stderr
    with Simulator(SimulatorConfig(seed=24, messages=60)) as fresh:
        cfg = str(write_config(tmp_path, fresh))
        held = run_tagger("once", "-c", cfg)
        assert "Traceback" not in held.stderr
        assert "every apply is paused" in held.stdout, held.stdout
        assert not fresh.applied()
        status = run_tagger("status", "--check", "-c", cfg)
        assert "kill switch on" in status.stdout, status.stdout

        lifted = run_tagger("resume", "--all", "--yes", "-c", cfg)
        assert lifted.returncode == exitcodes.OK, lifted.stderr
        assert not pause_file(state).exists()
        again = run_tagger("once", "-c", cfg)
        assert again.returncode == exitcodes.OK, again.stderr
        assert fresh.applied()


def test_recover_state_moves_it_aside(damaged: tuple[Simulator, Path], tmp_path: Path) -> None:
    cfg, state = _copy(damaged, tmp_path)
    done = run_tagger("recover-state", "-c", cfg)
    assert done.returncode == exitcodes.OK, done.stderr
    assert not state.exists()
    assert list(tmp_path.glob("state.db.damaged-*"))
