"""Logging: structlog for our events, stdlib logging routed through the same chain.

JSON lines under systemd or when stderr is not a terminal, readable key=value
lines on a terminal. Every record — ours, httpx's, APScheduler's — passes one
redaction processor before it is rendered, which masks values of secret-looking
keys, every occurrence of a registered secret or live access token, and every
credential-shaped value (``Bearer …``, ``MC key:signature``, ``Authorization``
values; see :mod:`tagger.redact`) in messages, nested values and exception
tracebacks alike.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from tagger import redact
from tagger.logrepeat import CollapseRepeats

Format = Literal["auto", "json", "console"]
MASK = redact.MASK

# Keys whose values are masked whatever they hold (matched anywhere in the key).
SECRET_KEY_RE = re.compile(
    r"secret|passw|token|authori[sz]ation|access_?key|api_?key|credential|cookie", re.IGNORECASE
)
# Third-party loggers that are chatty at INFO (one line per HTTP request or job
# run); they are raised to WARNING unless the level is DEBUG.
NOISY_LOGGERS = ("httpx", "httpcore", "apscheduler")

_handler: logging.Handler | None = None


def register_secret(value: str) -> None:
    """Mask ``value`` (and its URL-encoded form) in every log line from now on.

    Empty values are ignored: they would match everywhere.
    """
    redact.register_secret(value)


def redact_text(text: str) -> str:
    """Return ``text`` with every registered secret, live token and credential-shaped value masked.

    See :func:`tagger.redact.redact` (``Bearer …``, ``MC key:signature``,
    ``Authorization`` values), so a header echoed by a server never reaches a log line.
    """
    return redact.redact_text(text)


def _contains_secret(text: str) -> bool:
    return redact_text(text) != text


def redact_value(value: Any, depth: int = 0) -> Any:
    """Return ``value`` with secrets masked, recursing into containers.

    Strings are scanned for registered secrets; dict values under secret-looking
    keys are masked whole; other objects are replaced by their redacted text if
    their ``str`` or ``repr`` would reveal a secret.
    """
    if depth > 20:  # pathological nesting: do not risk a leak, do not recurse forever
        return MASK
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            k: (
                MASK
                if isinstance(k, str) and SECRET_KEY_RE.search(k)
                else redact_value(v, depth + 1)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(v, depth + 1) for v in value]
    try:
        shown = str(value)
        if _contains_secret(shown) or _contains_secret(repr(value)):
            return redact_text(shown)
    except Exception:  # a broken __str__ must not break logging
        return f"<unprintable {type(value).__name__}>"
    return value


def redact_processor(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """structlog processor applying :func:`redact_value` to the whole event."""
    out: EventDict = {}
    for key, value in event_dict.items():
        if key.startswith("_"):
            out[key] = value  # structlog internals (_record, _from_structlog)
        elif SECRET_KEY_RE.search(key):
            out[key] = MASK
        else:
            out[key] = redact_value(value)
    return out


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
    global _handler
    threshold = _level_number(level)
    for secret in secrets:
        register_secret(secret)
    out = stream if stream is not None else sys.stderr
    as_json = wants_json(format, out, os.environ if env is None else env)

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer(default=str)
        if as_json
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Tracebacks become text first, so redaction sees them.
            structlog.processors.format_exc_info,
            redact_processor,
            renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    handler.setLevel(threshold)

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


def get_logger(name: str = "tagger") -> Any:
    """Return a structlog logger; log with ``log.info("event_name", key=value)``."""
    return structlog.get_logger(name)
