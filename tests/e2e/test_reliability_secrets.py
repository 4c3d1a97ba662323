"""Known secrets appear nowhere: every command, secrets from the environment or inline,
success and failure paths; checked in stdout, stderr, the audit report and the state files.

The secrets are distinctive and contain characters that URL and form encoding
change, so their encoded forms (and the base64 forms an HMAC key or a Basic
header would take) are searched for too.
"""

from __future__ import annotations

import base64
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tagger.simulator import Credentials, Simulator, SimulatorConfig
from tests.support.daemon import RULES_DIR, account_yaml, free_port, run_tagger, write_config

pytestmark = pytest.mark.slow

HMAC_KEY = b"hmac/Key+9Tq=Zv7 Wn3!Lp5$"
CREDS = Credentials(
    access_key="acc/Key+4Rt=Yu8 Io1&Pa",
    secret_key=base64.b64encode(HMAC_KEY).decode("ascii"),
    app_id="tagger-reliability-app",
    app_key="app/Key+6Df=Gh2 Jk8#Lz",
    client_id="tagger-reliability-client",
    client_secret="cli/Secret+3Xc=Vb5 Nm7%Qw",
)
WRONG = "wrong/Secret+1Aa=Bb2 Cc3?Dd"
ENV = {
    "REL_CLIENT_SECRET": CREDS.client_secret,
    "REL_ACCESS_KEY": CREDS.access_key,
    "REL_SECRET_KEY": CREDS.secret_key,
    "REL_APP_KEY": CREDS.app_key,
}


def forms(secret: str) -> set[str]:
    """Return a secret with its URL-encoded, form-encoded and base64 forms."""
    raw = secret.encode()
    return {
        secret,
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
    }


SECRETS = set().union(
    *(forms(s) for s in (CREDS.client_secret, CREDS.access_key, CREDS.app_key, WRONG)),
    forms(CREDS.secret_key),
    forms(HMAC_KEY.decode()),
)


def accounts(oauth: Simulator, hmac: Simulator, *, inline: bool) -> list[dict[str, Any]]:
    """Return a 2.0 and a 1.0 account; secrets inline or as ``{env: VAR}`` references."""

    def ref(var: str) -> Any:
        return ENV[var] if inline else {"env": var}

    first = account_yaml(oauth, "oauth")
    first["credentials"] = {
        "client_id": CREDS.client_id,
        "client_secret": ref("REL_CLIENT_SECRET"),
    }
    second = account_yaml(hmac, "hmac", api_version="1.0")
    second["credentials"] = {
        "access_key": ref("REL_ACCESS_KEY"),
        "secret_key": ref("REL_SECRET_KEY"),
        "app_id": CREDS.app_id,
        "app_key": ref("REL_APP_KEY"),
    }
    return [first, second]


def leaks(blob: bytes) -> list[str]:
    """Return the secret forms found in ``blob``."""
    return sorted(s for s in SECRETS if s.encode() in blob)


def run_all(config: Path, outputs: list[tuple[str, bytes]]) -> None:
    """Run every command against ``config``; collect what each printed."""
    c = str(config)
    fixture = str(RULES_DIR / "fixtures" / "phish-dmarc-fail.json")
    since = (datetime.now(UTC) - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    commands: list[tuple[tuple[str, ...], set[int]]] = [
        (("validate", "-c", c, "--tags-from-account"), {0}),
        (("test", "-c", c), {0}),
        (("explain", "-c", c, "--message", fixture), {0}),
        (("once", "-c", c, "--log-level", "debug"), {0}),
        (("once", "-c", c, "--dry-run", "--log-level", "debug"), {0}),
        (("run", "-c", c, "--max-cycles", "1", "--log-level", "debug"), {0}),
        (("backfill", "-c", c, "--since", since, "--log-level", "debug"), {0}),
        (("status", "-c", c), {0}),
        (("tags", "-c", c), {0}),
    ]
    for args, codes in commands:
        done = run_tagger(*args, env=ENV)
        assert done.returncode in codes, (args, done.returncode, done.stderr[-2000:])
        outputs.append((" ".join(args[:1]), (done.stdout + done.stderr).encode()))


@pytest.mark.parametrize("inline", [False, True], ids=["env", "inline"])
def test_no_command_shows_a_secret(tmp_path: Path, inline: bool) -> None:
    outputs: list[tuple[str, bytes]] = []
    sim_config = SimulatorConfig(seed=71, messages=60, credentials=CREDS)
    with Simulator(sim_config) as oauth, Simulator(sim_config) as hmac:
        config = write_config(tmp_path, oauth, accounts=accounts(oauth, hmac, inline=inline))
        assert (CREDS.client_secret in config.read_text()) == inline
        run_all(config, outputs)
        assert oauth.applied() and hmac.applied(), "the commands must really have worked"
    files = [tmp_path / "audit.jsonl", *sorted(tmp_path.glob("state.db*"))]
    assert files[0].exists() and len(files) >= 2
    blobs = outputs + [(p.name, p.read_bytes()) for p in files]
    assert sum(len(b) for _, b in blobs) > 50_000
    found = {name: leaks(blob) for name, blob in blobs if leaks(blob)}
    assert found == {}


def test_failures_name_the_problem_without_the_secret(tmp_path: Path) -> None:
    outputs: list[tuple[str, bytes]] = []
    with Simulator(SimulatorConfig(seed=72, messages=20, credentials=CREDS)) as sim:
        wrong = accounts(sim, sim, inline=True)
        wrong[0]["credentials"]["client_secret"] = WRONG
        wrong[1]["credentials"]["secret_key"] = base64.b64encode(WRONG.encode()).decode()
        for account, words in ((wrong[0], "client_secret"), (wrong[1], "secret key")):
            work = tmp_path / account["name"]
            work.mkdir()
            config = write_config(work, sim, accounts=[account])
            for args in (("once", "--log-level", "debug"), ("tags",)):
                done = run_tagger(*args, "-c", str(config))
                assert done.returncode != 0, done.stdout
                assert "authentication failed" in done.stderr or "rejected" in done.stderr
                assert words in done.stderr, done.stderr[-2000:]
                outputs.append((args[0], (done.stdout + done.stderr).encode()))

        # Nothing listens on this port any more: the server is unreachable.
        gone = accounts(sim, sim, inline=True)
        port = free_port()
        for account in gone:
            account["base_url"] = f"http://127.0.0.1:{port}"
            account["retry"] = {"max_attempts": 2, "max_total_s": 2, "base_delay_s": 0.01}
        work = tmp_path / "unreachable"
        work.mkdir()
        config = write_config(work, sim, accounts=gone)
        for args in (
            ("once", "--log-level", "debug"),
            ("tags",),
            ("validate", "--tags-from-account"),
        ):
            done = run_tagger(*args, "-c", str(config))
            assert done.returncode != 0, done.stdout
            assert "connection" in done.stderr.lower(), done.stderr[-2000:]
            outputs.append((args[0], (done.stdout + done.stderr).encode()))

    state_files = [(p.name, p.read_bytes()) for p in tmp_path.rglob("state.db*")]
    found = {name: leaks(blob) for name, blob in outputs + state_files if leaks(blob)}
    assert found == {}
