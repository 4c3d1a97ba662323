"""An installed wheel is complete: init, validate, test and the demo work from it.

The wheel is built from this tree (``pip wheel --no-deps --no-build-isolation``,
no network) and installed into a fresh virtual environment in a temporary
directory; the dependencies are borrowed from the running environment through a
path file (the source tree is not on the path). Commands then run from an
empty directory.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tagger.cli.main import build_parser
from tagger.cli.manpage import render

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A venv holding only the wheel of this tree; returns its bin dir and environment."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"
    ignore = shutil.ignore_patterns(".*", "*.egg-info", "build", "__pycache__")
    # A clean tree (no stale build/ or skel/) that still holds testkit/, tests/ and
    # bench/, so that the wheel is seen to leave them out.
    shutil.copytree(ROOT, source, ignore=ignore)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TAGGER_CONFIG")}
    built = run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
        "-w", tmp / "dist", source, cwd=tmp, env=env,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp / "dist").glob("tagger-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    # The package and its metadata only: no test helpers, tests or benchmarks.
    tops = {n.split("/", 1)[0] for n in names}
    assert tops == {"tagger", next(t for t in tops if t.endswith(".dist-info"))}, sorted(tops)
    helpers = [
        n
        for n in names
        if n.split("/", 1)[0] in ("testkit", "tests", "bench")
        or "/testkit/" in n
        or Path(n).name.endswith("_support.py")
        or Path(n).name in ("conftest.py", "benchlib.py")
    ]
    assert not helpers, helpers
    assert "tagger/skel/config.example.yaml" in names
    assert "tagger/skel/systemd/tagger.service" in names
    assert "tagger/skel/rules/security.yaml" in names
    assert "tagger/skel/docs/rules.md" in names  # tagger help rules
    assert "tagger/skel/monitoring/prometheus/tagger-alerts.yaml" in names
    assert "tagger/skel/monitoring/grafana/tagger-dashboard.json" in names
    assert any(n.startswith("tagger/skel/rules/fixtures/") for n in names)
    for template in ("report.html.j2", "chart.html.j2", "rules.html.j2", "report.css", "report.js"):
        assert f"tagger/audit/templates/{template}" in names

    venv = tmp / "venv"
    made = run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp, env=env)
    assert made.returncode == 0, made.stderr
    purelib = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    # The dependencies of the running environment, without its editable tagger.
    (purelib / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    added = run(
        sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install",
        "--no-deps", "--no-index", wheel, cwd=tmp, env=env,
    )  # fmt: skip
    assert added.returncode == 0, added.stdout + added.stderr
    return venv / "bin", env


@pytest.mark.slow
def test_init_validate_and_test_from_an_installed_wheel(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    bin_dir, env = installed
    where = run(
        bin_dir / "python", "-c", "import tagger; print(tagger.__file__)", cwd=tmp_path, env=env
    )
    assert str(bin_dir.parent) in where.stdout, where.stdout + where.stderr
    made = run(bin_dir / "tagger", "init", "site", cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    site = tmp_path / "site"
    assert (site / "config.yaml").stat().st_mode & 0o777 == 0o644
    assert (site / "credentials" / "mimecast-client-secret").stat().st_mode & 0o777 == 0o600
    assert (site / "tagger.service").is_file() and (site / "rules" / "fixtures").is_dir()
    again = run(bin_dir / "tagger", "init", "site", cwd=tmp_path, env=env)
    assert again.returncode == 2 and "already exists" in again.stderr
    valid = run(bin_dir / "tagger", "validate", "-c", site / "config.yaml", cwd=tmp_path, env=env)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    tested = run(bin_dir / "tagger", "test", site / "rules", cwd=tmp_path, env=env)
    assert tested.returncode == 0, tested.stdout
    assert ", 0 failed" in tested.stdout
    # The rule reference ships with the package: what errors and the man page point to.
    reference = run(bin_dir / "tagger", "help", "rules", cwd=tmp_path, env=env)
    assert reference.returncode == 0, reference.stderr
    assert reference.stdout.startswith("# Writing tagger rules")
    assert "| `bounced` |" in reference.stdout
    page = run(bin_dir / "tagger", "manpage", cwd=tmp_path, env=env).stdout
    assert "docs/rules.md" not in page and "tagger help rules" in page


@pytest.mark.slow
def test_demo_runs_from_an_installed_wheel(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    bin_dir, env = installed
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = run(bin_dir / "tagger", "demo", "--port", str(port), cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"=== simulator serving http://127.0.0.1:{port} ===" in done.stdout
    # A first run has nothing to warn about, and the status it shows is green.
    assert "search_cap_mismatch" not in done.stdout + done.stderr
    assert "check: OK" in done.stdout and "check: CRITICAL" not in done.stdout
    assert "[audit-only: awaiting promotion]" in done.stdout
    report = tmp_path / "tagger-demo-report.html"
    assert done.stdout.rstrip().endswith(f"HTML audit report: {report}")
    assert "<svg" in report.read_text(encoding="utf-8")


def test_man_page_and_completion_cover_every_command(tmp_path: Path) -> None:
    parser = build_parser()
    page = render(parser)
    commands = ["once", "backfill", "status", "report", "fetch", "fields", "rules", "init"]
    commands += ["demo", "completion"]
    for command in commands:
        assert f".SS {command}\n" in page
    assert "\\-\\-check" in page and "\\-\\-dry\\-run" in page
    if shutil.which("groff"):
        (tmp_path / "tagger.1").write_text(page, encoding="utf-8")
        checked = subprocess.run(
            ["groff", "-man", "-Tutf8", "-ww", "-z", str(tmp_path / "tagger.1")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert checked.returncode == 0 and checked.stderr == "", checked.stderr
    script = subprocess.run(
        [sys.executable, "-m", "tagger", "completion", "bash"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert script.returncode == 0, script.stderr
    for command in commands:
        assert command in script.stdout
    assert "--dry-run" in script.stdout


def test_demo_on_a_busy_port_says_so(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "tagger", "demo", "--port", str(port)],
            cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert f"(--port {port}: choose another port, or 0 for any free one)" in done.stderr
