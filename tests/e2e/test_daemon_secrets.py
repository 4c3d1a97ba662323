"""No secret in any output: once, run, status, tags, backfill with credentials from the
environment, at debug level, through token refresh and failing calls; checked in stdout,
stderr, the audit report and the state file's bytes."""

from __future__ import annotations

import base64
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tagger import exitcodes
from tagger.simulator import DEMO, Simulator, SimulatorConfig
from tests.support.daemon import Running, account_yaml, applied_pairs, run_tagger, write_config

ENV = {
    "TT_CLIENT_ID": DEMO.client_id,
    "TT_CLIENT_SECRET": DEMO.client_secret,
    "TT_ACCESS_KEY": DEMO.access_key,
    "TT_SECRET_KEY": DEMO.secret_key,
    "TT_APP_KEY": DEMO.app_key,
}
SECRETS = (
    DEMO.client_secret,
    DEMO.access_key,
    DEMO.secret_key,
    base64.b64decode(DEMO.secret_key).decode(),
    DEMO.app_key,
)


def accounts(oauth: Simulator, hmac: Simulator) -> list[dict[str, object]]:
    first = account_yaml(oauth, "oauth")
    first["credentials"] = {
        "client_id": {"env": "TT_CLIENT_ID"},
        "client_secret": {"env": "TT_CLIENT_SECRET"},
    }
    second = account_yaml(hmac, "hmac", api_version="1.0")
    second["credentials"] = {
        "access_key": {"env": "TT_ACCESS_KEY"},
        "secret_key": {"env": "TT_SECRET_KEY"},
        "app_id": DEMO.app_id,
        "app_key": {"env": "TT_APP_KEY"},
    }
    return [first, second]


def test_secrets_appear_in_no_output_audit_or_state(tmp_path: Path) -> None:
    outputs: list[str] = []
    with (
        Simulator(SimulatorConfig(seed=61, messages=80)) as oauth,
        Simulator(SimulatorConfig(seed=62, messages=80)) as hmac,
    ):
        cfg = write_config(tmp_path, oauth, accounts=accounts(oauth, hmac))
        assert not any(s in cfg.read_text() for s in SECRETS)
        # Failures put error texts into logs and state.
        oauth.fail_message(oauth.messages()[5].id, 100)
        hmac.fail_message(hmac.messages()[5].id, 100)
        c = str(cfg)
        debug = ("--log-level", "debug")
        since = (datetime.now(UTC) - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")

        for args in (
            ("once", "-c", c, *debug),
            ("once", "-c", c, "--dry-run", *debug),
            ("backfill", "-c", c, "--since", since, *debug),
            ("status", "-c", c),
            ("tags", "-c", c),
        ):
            done = run_tagger(*args, env=ENV)
            # The injected failures (older than the backfill) leave work for the next run.
            cycles = args[0] == "once"
            assert done.returncode == (exitcodes.INCOMPLETE if cycles else 0), (args, done.stderr)
            outputs += [done.stdout, done.stderr]

        daemon = Running("run", "-c", c, *debug, env=ENV)
        try:
            daemon.wait_event("cycle_finished")
            daemon.signal(signal.SIGHUP)
            daemon.wait_event("reload_done")
            cycles = len(daemon.named("cycle_finished"))
            oauth.expire_tokens()
            oauth.add_messages(10)
            hmac.add_messages(10)
            daemon.wait_event("cycle_finished", count=cycles + 2)
        finally:
            assert daemon.stop() == 0, daemon.stderr
        outputs += [daemon.stdout, daemon.stderr]
        assert any('"mimecast_token_refresh"' in line for line in daemon.err)
        assert applied_pairs(oauth) and applied_pairs(hmac)

    files = [tmp_path / "audit.jsonl", tmp_path / "state.db"]
    files += [p for p in tmp_path.glob("state.db-*")]
    blobs = [o.encode() for o in outputs] + [p.read_bytes() for p in files]
    assert sum(len(b) for b in blobs) > 100_000
    for secret in SECRETS:
        leaks = [i for i, blob in enumerate(blobs) if secret.encode() in blob]
        assert leaks == [], f"a secret leaked into output #{leaks}"
