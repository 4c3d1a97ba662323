"""``tagger pause``, ``resume`` and ``promote``: the operator's side of the safety rails.

``pause RULE`` writes the same pause record a blast-radius limit writes (on
every account whose rule set holds the rule, kind ``manual``); ``resume RULE``
lifts either. ``--account NAME`` narrows ``pause``, ``resume`` and
``promote`` to one account (accounts may run rule sets of their own, see
:mod:`tagger.cli.ruletargets`). A mistyped rule id is refused with a
did-you-mean.

Each writes small records to the state file, next to a running daemon: the
file is opened without the single-writer lock (SQLite serialises the write
itself). The daemon reads the kill switch and the pauses again at the moment
each apply is sent, and ``pause`` returns only once the running process has
confirmed that no apply of it reaches Mimecast any more
(:mod:`tagger.cli.stopwait`); promotions count from its next cycle. The kill
switch is also a file beside the state (:mod:`tagger.state.pausefile`), so
``pause --all`` works when the state file cannot be read. A rail records what
it keeps back as held pairs; ``promote`` and ``resume`` show them (distinct
messages and tags) and, on confirmation, lift the rail: the daemon's next
cycle applies them through its one apply path, paced by the quota
(``--from-now`` drops them instead, see :mod:`tagger.cli.held`).

Each command has its module: :mod:`tagger.cli.pause` (with the kill switch
in :mod:`tagger.cli.killswitch`), :mod:`tagger.cli.resume` and
:mod:`tagger.cli.promote`; the release prompt the last two share is
:mod:`tagger.cli.releaseprompt`.
"""

from __future__ import annotations

import argparse
from typing import Any

from tagger.cli import pause, promote, resume

__all__ = ["register"]


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``pause``, ``resume`` and ``promote`` sub-commands, in that order."""
    for command in (pause, resume, promote):
        command.register(sub, parent)
