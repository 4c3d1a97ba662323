"""``tagger pause --all``: the kill switch, set in its file and its row, then confirmed.

The file beside the state (:mod:`tagger.state.pausefile`) and the state
file's row each stop every apply on their own, so the switch holds when the
state file cannot be read; a running tagger confirms it through the state
(:mod:`tagger.cli.stopwait`).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from tagger import exitcodes
from tagger.cli.stopwait import confirm_stop
from tagger.monitor.lockprobe import lock_held
from tagger.state import StateError
from tagger.state.opener import StateConfig, open_state
from tagger.state.pausefile import set_pause_file
from tagger.state.railstore import PAUSE_ALL

__all__ = ["set_kill_switch"]


def _now() -> datetime:
    return datetime.now(UTC)


def set_kill_switch(config: StateConfig, wait_s: float) -> int:
    """Turn the kill switch on (its file beside the state, then its row) and await the confirmation.

    Either one stops every apply: a damaged or unreadable state file only
    earns a warning (and no confirmation can be had through it, which matters
    only when a tagger process holds the state). Returns FAILURE, saying what
    to do instead, when neither can be set or a running process did not confirm.
    """
    state_path = config.state_path
    at = _now()
    problems: list[str] = []
    try:
        where = set_pause_file(state_path, True, at)
    except StateError as exc:
        where = None
        problems.append(str(exc))
    try:
        with open_state(config, lock=False) as store:
            store.set_switch(PAUSE_ALL, True, at)
            confirmed = confirm_stop(store, state_path, wait_s)
    except StateError as exc:
        problems.append(str(exc))
        if where is None:
            for problem in problems:
                print(f"tagger: error: {problem}", file=sys.stderr)
            print(
                "tagger: error: the kill switch could NOT be set; stop the daemon instead "
                "(e.g. `systemctl stop tagger`): a stopped daemon applies nothing",
                file=sys.stderr,
            )
            return exitcodes.FAILURE
        print(
            f"warning: the state file could not record the kill switch ({exc}); "
            f"its file {where} is set, and that alone stops every apply",
            file=sys.stderr,
        )
        if lock_held(state_path):
            print(
                "the kill switch is on, but the running tagger could not confirm it through the"
                " damaged state file: stop it (systemctl stop tagger) to be sure",
                file=sys.stderr,
            )
            return exitcodes.FAILURE
        print("every apply is paused (cycles still search and record what they would apply)")
        return exitcodes.OK
    if not confirmed.confirmed:
        print(f"the kill switch is on, but {confirmed.text}", file=sys.stderr)
        return exitcodes.FAILURE
    print(
        "every apply is paused (cycles still search and record what they would apply): "
        f"{confirmed.text}; 'tagger resume --all' lifts it"
    )
    return exitcodes.OK
