"""Logging: structlog for our events, stdlib logging routed through the same chain.

JSON lines under systemd or when stderr is not a terminal, readable key=value
lines on a terminal. Every record — ours, httpx's, APScheduler's — passes one
redaction processor before it is rendered, which masks values of secret-looking
keys, every occurrence of a registered secret or live access token, and every
credential-shaped value (``Bearer …``, ``MC key:signature``, ``Authorization``
values; see :mod:`tagger.logs.redact`) in messages, nested values and exception
tracebacks alike.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from tagger.logs.redact import REDACTOR
from tagger.logs.repeat import CollapseRepeats

Format = Literal["auto", "json", "console"]

# Third-party loggers that are chatty at INFO (one line per HTTP request or job
# run); they are raised to WARNING unless the level is DEBUG.
NOISY_LOGGERS = ("httpx", "httpcore", "apscheduler")

_handler: logging.Handler | None = None


def _capture_exc_info(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    # Resolve exc_info=True while still inside the except block.
    if event_dict.get("exc_info") is True:
        event_dict["exc_info"] = sys.exc_info()
    return event_dict


def wants_json(fmt: Format, stream: TextIO, env: Mapping[str, str]) -> bool:
    """Return True when ``fmt`` (resolving ``auto``) means JSON output."""
    if fmt != "auto":
        return fmt == "json"
    if env.get("JOURNAL_STREAM") or env.get("INVOCATION_ID"):
        return True
    isatty = getattr(stream, "isatty", None)
    return not (callable(isatty) and isatty())


def _level_number(level: str) -> int:
    number = logging.getLevelName(level.upper())
    if not isinstance(number, int):
        raise ValueError(f"unknown log level {level!r} (use debug, info, warning or error)")
    return number


def configure_logging(
    format: Format = "auto",
    level: str = "info",
    *,
    stream: TextIO | None = None,
    secrets: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
) -> None:
    """Set up structlog and the stdlib root logger to write to ``stream``.

    Given the output format, the minimum level name, the stream (default
    stderr), secrets to register and the environment (default ``os.environ``,
    read for the systemd variables). Calling it again replaces the previous
    setup. Raises ValueError for an unknown level.
    """
    threshold = _level_number(level)
    for secret in secrets:
        REDACTOR.add_secret(secret)
    out = stream if stream is not None else sys.stderr
    as_json = wants_json(format, out, os.environ if env is None else env)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    handler = logging.StreamHandler(out)
    handler.setFormatter(_formatter(shared, as_json))
    handler.setLevel(threshold)
    _install_root_handler(handler, threshold)
    structlog.configure(
        processors=[
            *shared,
            CollapseRepeats(),
            _capture_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        cache_logger_on_first_use=False,
    )


def _formatter(shared: list[Processor], as_json: bool) -> logging.Formatter:
    """Return the formatter that redacts and renders every record (JSON or key=value lines).

    ``shared`` are the processors our own events pass, applied to stdlib
    records too so that both read alike.
    """
    renderer: Processor = (
        structlog.processors.JSONRenderer(default=str)
        if as_json
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Tracebacks become text first, so redaction sees them.
            structlog.processors.format_exc_info,
            REDACTOR,
            renderer,
        ],
    )


def _install_root_handler(handler: logging.Handler, threshold: int) -> None:
    """Make ``handler`` the root logger's only handler, at level ``threshold``.

    The noisy third-party loggers are raised to WARNING unless ``threshold``
    is DEBUG.
    """
    global _handler
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    # Any handler installed before us (e.g. by basicConfig) would bypass redaction.
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(threshold)
    _handler = handler
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(
            threshold if threshold <= logging.DEBUG else logging.WARNING
        )


def get_logger(name: str = "tagger") -> Any:
    """Return a structlog logger; log with ``log.info("event_name", key=value)``."""
    return structlog.get_logger(name)
