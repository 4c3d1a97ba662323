"""``tagger demo`` (``make demo``), the main job on a fresh machine: tagger against its simulator.

Starts ``tagger simulate`` on a free port of 127.0.0.1, writes a copy of the
example config pointing at it (state and audit report in a temporary
directory, a short schedule), then runs the real commands one after another:
validate and test the shipped rules, a dry-run cycle with its summary, the
daemon live for two cycles (the first tags, the second applies nothing),
``tagger status``, and ``tagger report`` writing the HTML audit report, whose
path it prints last. It works from a source checkout and from an installed
wheel (the shipped files are found by :mod:`tagger.cli.skel`); it ends by
itself, and Ctrl-C stops it cleanly.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from tagger import exitcodes
from tagger.cli.skel import CONFIG, RULES, skel_dir
from tagger.rules import load_rules

TAGGER = [sys.executable, "-m", "tagger"]
REPORT_NAME = "tagger-demo-report.html"


def _banner(text: str) -> None:
    """Print a step heading."""
    print(f"\n=== {text} ===", flush=True)


def _run(args: list[str], env: dict[str, str], cwd: Path) -> int:
    """Run one tagger command, streaming its output; returns its exit code."""
    print("$ tagger " + " ".join(args), flush=True)
    return subprocess.run([*TAGGER, *args], env=env, cwd=cwd, check=False).returncode  # noqa: S603


def _start_simulator(
    env: dict[str, str], cwd: Path, port: int = 0
) -> tuple[subprocess.Popen[str], str]:
    """Start the simulator process on ``port`` (0: any free one); returns it and its URL."""
    proc = subprocess.Popen(  # noqa: S603
        [*TAGGER, "simulate", "--port", str(port), "--seed", "7", "--messages", "400"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    url = next((w for w in line.split() if w.startswith("http://")), "")
    if not url:
        proc.terminate()
        proc.wait(timeout=30)
        hint = f" (--port {port}: choose another port, or 0 for any free one)" if port else ""
        raise SystemExit(f"tagger demo: error: the simulator did not start{hint}")
    return proc, url


def _write_config(url: str, workdir: Path, rules: Path) -> Path:
    """Write the example config pointed at ``url`` into ``workdir``; returns its path."""
    data: dict[str, Any] = yaml.safe_load((skel_dir() / CONFIG).read_text(encoding="utf-8"))
    for account in data["accounts"]:
        account.pop("region", None)
        account["base_url"] = url
    data["rules"] = [str(rules / "*.yaml")]
    data["state_path"] = str(workdir / "state.db")
    data["audit"] = {"path": str(workdir / "audit.jsonl")}
    data["schedule"] = {"interval": "5s", "jitter": "0s", "misfire_grace": "1m"}
    data.setdefault("logging", {})["format"] = "console"
    # Audit-first, as a new install: the demo promotes the rules before they apply.
    data["rollout"] = "audit-first"
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return path


def _steps(config: Path, rules: Path, report: Path, env: dict[str, str], cwd: Path) -> int:
    """Run the demo's commands; returns how many failed."""
    failures = 0
    c = str(config)
    _banner("validate and test the shipped rules")
    failures += _run(["validate", str(rules)], env, cwd) != 0
    failures += _run(["test", str(rules)], env, cwd) != 0
    _banner("the account's Smart Tags")
    failures += _run(["tags", "-c", c], env, cwd) != 0
    _banner("dry run: what would be tagged once promoted (nothing is applied)")
    failures += _run(["once", "-c", c, "--dry-run", "--show", "2"], env, cwd) != exitcodes.OK
    _banner("audit-first: a live cycle records the new rules' matches as held pairs")
    failures += _run(["once", "-c", c], env, cwd) != exitcodes.OK
    _banner("promote one rule after reviewing what it holds (the next cycle applies it)")
    ids = [r.id for r in load_rules([rules]).rules if r.mode == "enforce"]
    failures += _run(["promote", "phishing-suspect", "--yes", "-c", c], env, cwd) != 0
    for rule_id in (i for i in ids if i != "phishing-suspect"):
        quiet = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
            [*TAGGER, "promote", rule_id, "--yes", "-c", c],
            env=env,
            cwd=cwd,
            capture_output=True,
            check=False,
        )
        failures += quiet.returncode != 0
    print(f"(and the other {len(ids) - 1} rules the same way)")
    _banner(
        "live: the daemon runs two cycles (the first applies what was held, the second nothing)"
    )
    failures += _run(["run", "-c", c, "--max-cycles", "2"], env, cwd) != 0
    _banner("status from the state file")
    failures += _run(["status", "-c", c], env, cwd) != 0
    _banner("the audit report as one HTML page")
    audit = config.parent / "audit.jsonl"
    failures += _run(["report", str(audit), "--html", str(report), "-c", c], env, cwd) != 0
    return failures


def main(report: Path | None = None, port: int = 0) -> int:
    """Run the demo; returns 0 when every step succeeded.

    ``report`` is where the HTML audit report is written (default
    ``./tagger-demo-report.html``); its path is the last line printed.
    """
    target = (report or Path(REPORT_NAME)).resolve()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    failures = 0
    with tempfile.TemporaryDirectory(prefix="tagger-demo-") as tmp:
        workdir = Path(tmp)
        sim, url = _start_simulator(env, workdir, port)
        try:
            rules = skel_dir() / RULES
            config = _write_config(url, workdir, rules)
            _banner(f"simulator serving {url}")
            failures += _steps(config, rules, target, env, workdir)
            with urllib.request.urlopen(f"{url}/_sim/stats", timeout=10) as resp:  # noqa: S310
                stats = json.load(resp)
            applies = stats.get("applies", {})
            _banner("simulator's view")
            print(
                f"apply calls: {applies.get('calls')}, distinct (message, tag) pairs: "
                f"{applies.get('distinct')}, repeated applies: {applies.get('repeats')}"
            )
        except KeyboardInterrupt:
            print("\ninterrupted; stopping the simulator", file=sys.stderr)
            failures += 1
        finally:
            sim.send_signal(signal.SIGTERM)
            sim.wait(timeout=30)
    print("\ndemo finished" + (" with failures" if failures else ""))
    if target.exists():
        print(f"HTML audit report: {target}")
    return exitcodes.FAILURE if failures else exitcodes.OK


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``demo`` sub-command."""
    parser = sub.add_parser(
        "demo", help="run tagger against its built-in simulator (no credentials needed)"
    )
    parser.add_argument(
        "--report",
        metavar="FILE",
        default=REPORT_NAME,
        help=f"where the HTML audit report goes (default: ./{REPORT_NAME})",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        metavar="N",
        help="serve the simulator on 127.0.0.1:N (default 0: any free port)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run the demo; 0 when every step succeeded."""
    return main(Path(args.report), args.port)


if __name__ == "__main__":
    raise SystemExit(main())
