"""Signals from the first instruction on: SIGHUP and SIGTERM kept until the daemon can act.

Importing tagger's modules takes a noticeable time (hundreds of milliseconds
on a busy host), and until the event loop's handlers are in place a signal
would take its default action: a SIGHUP sent to a daemon just started by
systemd would kill it, and systemd counts a death by SIGHUP as a clean exit.
:func:`install` is the first thing the ``tagger`` command does (before any
heavy import): it notes SIGHUP and SIGTERM instead. Commands that handle
signals themselves take the noted ones with :func:`take` when their handlers
are in place (:class:`tagger.service.session.Signals`); every other command
calls :func:`release` once it knows what it is, which restores the default
actions and re-delivers a noted signal, so it acts as it always did.
"""

from __future__ import annotations

import os
import signal
from types import FrameType

__all__ = ["EARLY", "install", "release", "take"]

EARLY = (signal.SIGHUP, signal.SIGTERM)
_pending: list[int] = []
_installed = False


def _note(signum: int, _frame: FrameType | None) -> None:
    _pending.append(signum)


def install() -> None:
    """Note SIGHUP and SIGTERM from now on instead of taking their default actions."""
    global _installed
    for sig in EARLY:
        signal.signal(sig, _note)
    _installed = True


def take() -> list[int]:
    """Return the signals noted so far (oldest first) and stop noting; the caller handles them."""
    global _installed
    taken, _pending[:] = list(_pending), []
    if _installed:
        for sig in EARLY:
            signal.signal(sig, signal.SIG_DFL)
        _installed = False
    return taken


def release() -> None:
    """Give SIGHUP and SIGTERM their default actions back; re-deliver any noted one."""
    for sig in take():
        os.kill(os.getpid(), sig)
