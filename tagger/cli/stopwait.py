"""Waiting for a running tagger to confirm a stop (``tagger pause``).

After the command has stored the kill switch (or a rule's pause) it records a
numbered stop request and waits until the process holding the state
acknowledges it (:mod:`tagger.service.stopack`): from then on no apply of
that process reaches Mimecast. When no process holds the state there is
nothing to wait for: the next one reads the rails before each apply.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tagger.monitor.daemoninfo import read_info
from tagger.monitor.lockprobe import lock_held
from tagger.state import StateStore

__all__ = ["DEFAULT_WAIT_S", "Confirmation", "confirm_stop"]

# How long the command waits for the running process by default (seconds).
DEFAULT_WAIT_S = 5.0
# How often it looks (seconds).
POLL_S = 0.01


@dataclass(frozen=True, slots=True)
class Confirmation:
    """What came of a stop request: ``confirmed`` or not, and the sentence that says so."""

    confirmed: bool
    text: str


def _holder(state_path: Path) -> str:
    """Return 'the running tagger (pid N)' when the daemon's note names a pid, else a phrase."""
    info = read_info(state_path)
    return f"the running tagger (pid {info.pid})" if info is not None else "the running tagger"


def confirm_stop(
    store: StateStore, state_path: Path, wait_s: float = DEFAULT_WAIT_S
) -> Confirmation:
    """Record a stop request in ``store`` and wait up to ``wait_s`` for its acknowledgement.

    Call after the switch or pause is committed. Confirmed at once when no
    process holds the state's lock; not confirmed when the process holding
    it did not answer in time (the text says what that can mean and what to do).
    A PostgreSQL ledger has no file lock to tell whether a tagger runs: an
    acknowledgement confirms, and without one nothing is claimed.
    """
    number = store.request_stop(datetime.now(UTC))
    began = time.monotonic()
    on_file = store.dialect == "sqlite"
    if on_file and lock_held(state_path) is False:
        return Confirmation(
            True,
            "no tagger process has the state open, so none is applying; the next one"
            " reads the switch before each apply",
        )
    deadline = began + wait_s
    while True:
        if store.stop_acknowledged() >= number:
            took = time.monotonic() - began
            return Confirmation(
                True,
                f"{_holder(state_path)} confirmed it in {took:.2f} s: none of its applies"
                " reaches Mimecast from now on",
            )
        if time.monotonic() >= deadline:
            break
        time.sleep(POLL_S)
    if on_file and lock_held(state_path) is False:
        return Confirmation(True, "the tagger process that had the state open has exited")
    if not on_file:
        return Confirmation(
            False,
            f"no tagger confirmed within {wait_s:g} s that it has stopped applying: with a"
            f" PostgreSQL ledger ({store.label}) no file lock tells whether one runs. The"
            " switch is stored and every apply of every node reads it first, but one already"
            " under way may still land. Check 'tagger status' on each node",
        )
    return Confirmation(
        False,
        f"could not confirm within {wait_s:g} s that {_holder(state_path)} has stopped"
        " applying: it did not answer (stopped with SIGSTOP, hung, still starting, or a"
        " version that does not answer). The switch is stored and every apply it sends from"
        " now on reads it, but one already under way may still land. Check 'tagger status',"
        " or stop the process (systemctl stop tagger)",
    )
