"""Reloading config and rules (SIGHUP): the whole new set, or why it was rejected.

A reload is all-or-nothing: the config is read, its secrets registered with
the log redactor and a runtime opened for it (rules compiled, accounts
reached); any problem rejects the whole reload and the daemon keeps running
what it had. Swapping the new set in is the daemon's part.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import structlog

from tagger.config import Config, load_config
from tagger.engine.options import Runtime
from tagger.errors import UserError
from tagger.logs.redact import REDACTOR
from tagger.service.runtime import open_runtime

# The daemon's logger: reload events read as the service's own.
log = structlog.get_logger("tagger.service")


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why a reload was rejected: the first problem (for the status line) and all of them."""

    first: str
    problems: list[str]


async def load_replacement(config_path: Path) -> tuple[Config, Runtime] | Rejected:
    """Load the config at ``config_path`` and open a runtime for it.

    Returns the new (config, runtime), or :class:`Rejected` when anything
    went wrong (logged as ``reload_rejected`` with every problem, located in
    its file). Raises nothing but cancellation.
    """
    try:
        config = load_config(config_path)
        for secret in config.secret_values():
            REDACTOR.add_secret(secret)
        runtime = await open_runtime(config)
    except UserError as exc:
        problems = [str(p) for p in exc.problems]
        log.error(
            "reload_rejected",
            summary=exc.summary,
            problems=problems,
            kept="previous configuration and rules",
        )
        return Rejected(problems[0] if problems else exc.summary, problems or [exc.summary])
    except Exception as exc:
        log.error("reload_rejected", error=str(exc), kept="previous configuration and rules")
        return Rejected(str(exc), [str(exc)])
    return config, runtime
