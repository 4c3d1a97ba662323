"""Output discipline and quiet logs: data on stdout, diagnostics on stderr, no floods.

Real `tagger` processes against the simulator for the commands; the log
processor and the progress display are also driven directly (a pseudo-terminal
stands in for a terminal).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tagger import exitcodes
from tagger.simulator import Simulator, SimulatorConfig
from tagger.simulator.credentials import DEMO
from tests.support.daemon import ROOT, TAGGER, run_tagger, tagger_env, write_config


def events(stderr: str) -> list[dict[str, object]]:
    out = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def test_config_warning_goes_to_stderr_and_tags_json_stays_clean(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=71, messages=5)) as sim:
        cfg = write_config(tmp_path, sim)
        cfg.chmod(0o644)  # an inline secret, readable by others: warned about
        done = run_tagger("tags", "--json", "-c", str(cfg))
    assert done.returncode == 0, done.stderr
    assert "config_inline_secret_readable" in done.stderr
    assert "config_inline_secret_readable" not in done.stdout
    json.loads(done.stdout)
    assert DEMO.client_secret not in done.stdout + done.stderr


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=72, messages=20)) as sim:
        cfg = str(write_config(tmp_path, sim))
        assert run_tagger("once", "-c", cfg).returncode == 0
        proc = subprocess.Popen(
            [*TAGGER, "status", "-c", cfg],
            cwd=ROOT,
            env=tagger_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # like `| head -0`: the reader is gone before the first line
        err = proc.stderr.read()
        code = proc.wait(timeout=60)
    assert code == exitcodes.BROKEN_PIPE, err
    assert "Traceback" not in err and "BrokenPipeError" not in err


def test_cycles_log_summaries_with_fields_not_a_line_per_tag(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=73, messages=150)) as sim:
        cfg = str(write_config(tmp_path, sim))
        done = run_tagger("run", "-c", cfg, "--max-cycles", "1")
    assert done.returncode == 0, done.stderr
    logged = events(done.stderr)
    names = [e["event"] for e in logged]
    assert "tag_applied" not in names
    (summary,) = [e for e in logged if e["event"] == "cycle_summary"]
    assert summary["account"] == "demo" and "summary" not in summary
    assert isinstance(summary["applied"], int) and summary["applied"] > 0
    per_rule = [e for e in logged if e["event"] == "rule_summary"]
    assert sum(int(str(e["applied"])) for e in per_rule) == summary["applied"]
    assert len({e["rule"] for e in per_rule}) == len(per_rule) >= 7
