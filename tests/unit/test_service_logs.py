"""Logging: JSON shape, console output, and secrets never reaching the output."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import structlog

from tagger.logs.configure import NOISY_LOGGERS, configure_logging, get_logger
from tagger.logs.redact import REDACTOR

SECRET = "Zq8-very-secret-value-41f"
LATE_SECRET = "late/registered+secret=="


class TtyStream(io.StringIO):
    """An in-memory stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    noisy = {n: logging.getLogger(n).level for n in NOISY_LOGGERS}
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)
    for name, lvl in noisy.items():
        logging.getLogger(name).setLevel(lvl)
    structlog.reset_defaults()


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_json_shape() -> None:
    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    get_logger().info("cycle_finished", account="corp", scanned=12)
    get_logger().debug("too_detailed")
    (rec,) = lines(out)
    assert rec["event"] == "cycle_finished"
    assert rec["level"] == "info"
    assert rec["account"] == "corp" and rec["scanned"] == 12
    stamp = datetime.fromisoformat(rec["timestamp"].replace("Z", "+00:00"))
    assert rec["timestamp"].endswith("Z") and stamp.utcoffset() is not None


def test_auto_format_picks_json_under_systemd_and_console_on_a_tty() -> None:
    tty = TtyStream()
    configure_logging("auto", "info", stream=tty, env={})
    get_logger().info("hello_console", key="value")
    text = tty.getvalue()
    assert "hello_console" in text and "key=value" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])

    journal = TtyStream()
    configure_logging("auto", "info", stream=journal, env={"INVOCATION_ID": "abc"})
    get_logger().info("hello_journal")
    assert lines(journal)[0]["event"] == "hello_journal"

    piped = io.StringIO()
    configure_logging("auto", "info", stream=piped, env={})
    get_logger().info("hello_pipe")
    assert lines(piped)[0]["event"] == "hello_pipe"


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging("json", "chatty", stream=io.StringIO())


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_registered_secrets_never_appear(fmt: str) -> None:
    out = io.StringIO()
    configure_logging(fmt, "debug", stream=out, secrets=[SECRET])  # type: ignore[arg-type]
    REDACTOR.add_secret(LATE_SECRET)
    log = get_logger()
    log.info("in_value", detail=f"header was Bearer {SECRET}")
    log.info("nested", request={"body": {"list": [f"x{SECRET}x", 3]}, "n": 1})
    log.info("late", url=f"https://h/?s={LATE_SECRET}")
    log.info("encoded", form="client_secret=late%2Fregistered%2Bsecret%3D%3D")
    try:
        raise RuntimeError(f"token rejected: {SECRET}")
    except RuntimeError:
        log.exception("call_failed")
    try:
        raise ValueError(f"from stdlib {SECRET}")
    except ValueError:
        logging.getLogger("httpx").exception("httpx said %s", SECRET)
    logging.getLogger("apscheduler").warning("job %s", LATE_SECRET)
    text = out.getvalue()
    assert SECRET not in text and LATE_SECRET not in text
    assert "late%2Fregistered%2Bsecret%3D%3D" not in text
    # Everything was logged (redacted, not dropped).
    for needle in ("in_value", "nested", "call_failed", "RuntimeError", "httpx said", "job ***"):
        assert needle in text
    assert text.count("***") >= 7


def test_secret_looking_keys_are_masked() -> None:
    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    get_logger().info(
        "auth",
        client_secret="abc",
        headers={"Authorization": "Bearer xyz", "Accept": "json"},
        access_token="t0k",
        password="pw",
        count=2,
    )
    (rec,) = lines(out)
    assert rec["client_secret"] == "***" and rec["access_token"] == "***"
    assert rec["password"] == "***"
    assert rec["headers"] == {"Authorization": "***", "Accept": "json"}
    assert rec["count"] == 2


def test_stdlib_records_share_the_chain_and_level() -> None:
    out = io.StringIO()
    configure_logging("json", "warning", stream=out)
    logging.getLogger("some.lib").info("dropped below level")
    logging.getLogger("some.lib").warning("kept %d", 5)
    (rec,) = lines(out)
    assert rec["event"] == "kept 5" and rec["level"] == "warning"
    assert rec["logger"] == "some.lib" and "timestamp" in rec


def test_objects_whose_repr_holds_a_secret_are_redacted() -> None:
    class Leaky:
        def __repr__(self) -> str:
            return f"Leaky({SECRET})"

    out = io.StringIO()
    configure_logging("json", "info", stream=out, secrets=[SECRET])
    get_logger().info("obj", thing=Leaky())
    assert SECRET not in out.getvalue()
