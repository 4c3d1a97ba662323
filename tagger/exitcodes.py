"""The process exit codes of every command, and the verdict of a cycle's reports.

One place defines them, so the commands, the README and the tests agree:

- ``0`` (:data:`OK`): everything asked was done.
- ``1`` (:data:`FAILURE`): a failure that needs the operator: an account whose
  cycle could not run (credentials refused, key binding expired, the state
  unusable), a search the service refused for good (e.g. a bare time window
  and no ``domains`` to scope it by), a window still truncated at
  ``window.split_min`` (mail may be missing), or messages set aside for good.
- ``2`` (:data:`USER_ERROR`): the configuration, the rules or the arguments are
  wrong; nothing ran.
- ``3`` (:data:`INCOMPLETE`): work was left undone and will be retried by the
  next run: applies or reads that failed transiently, windows held back,
  searches that failed for now, or a stop request. Nothing was lost; running
  the same command again continues.

Every command gives a code the same meaning (:data:`MEANINGS`, the table of the
README and of the man page); a cycle's summary lists what made it 1 (``needs
attention:``) apart from what makes it 3 (``incomplete: …; the next run
retries``), from the same two lists the code is computed from.

``tagger status --check`` alone uses the codes of Nagios plugins instead, which
monitoring systems read: :data:`NAGIOS_OK` (0), :data:`NAGIOS_WARNING` (1),
:data:`NAGIOS_CRITICAL` (2) and :data:`NAGIOS_UNKNOWN` (3, the status could not
be read).
"""

from __future__ import annotations

from collections.abc import Iterable

from tagger.engine.tally import CycleReport

OK = 0
FAILURE = 1
USER_ERROR = 2
INCOMPLETE = 3
INTERRUPTED_BY_KEYBOARD = 130
# The reader of standard output went away (128 + SIGPIPE, as a shell reports it).
BROKEN_PIPE = 141

# What each code means, for every command alike: the README's table and the
# man page's EXIT STATUS are this (tests/unit/test_exitcodes.py holds them to it).
MEANINGS: dict[int, str] = {
    OK: "everything asked was done",
    FAILURE: (
        "a failure that needs you: an account whose cycle could not run (credentials or"
        " permissions refused, key binding expired), a search the service refuses for good,"
        " a window still truncated at `window.split_min` (mail may be missing), a message set"
        " aside, a rule paused by a limit, a failed preflight, an unusable state file (with"
        " `tagger recover-state` named), a failed rule example (`test`), a kill switch that"
        " could not be set (`pause --all`); the summary's `needs attention:` line says which"
    ),
    USER_ERROR: "user error: the config, the rules or the arguments are wrong; nothing ran",
    INCOMPLETE: (
        "incomplete, will be retried: `once`/`backfill` left work for the next run (applies"
        " or reads that failed transiently, windows held back, searches that failed for now,"
        " a stop request); nothing is lost, and the summary's `incomplete:` line says what"
        " is left"
    ),
    INTERRUPTED_BY_KEYBOARD: "interrupted by Ctrl-C (SIGINT) outside a cycle",
    BROKEN_PIPE: "the reader of standard output went away (`tagger status | head`)",
}

# ``tagger status --check`` (Nagios plugin convention; not the codes above).
NAGIOS_OK = 0
NAGIOS_WARNING = 1
NAGIOS_CRITICAL = 2
NAGIOS_UNKNOWN = 3


def cycle_exit_code(reports: Iterable[CycleReport]) -> int:
    """Return the exit code of a command that ran cycles (``once``, ``backfill``).

    Given the reports of every account; returns :data:`FAILURE` when any
    report has something that needs the operator
    (:meth:`~tagger.engine.tally.CycleReport.needs_operator`: an account's
    cycle could not run, a search refused for good, a message set aside, a
    window still truncated, a rule paused by a limit, a failed preflight),
    :data:`INCOMPLETE` when work is left for the next run to retry
    (:meth:`~tagger.engine.tally.CycleReport.undone`), else :data:`OK`. The
    summary prints the same two lists, so its words and the code agree.
    """
    reports = list(reports)
    if any(r.needs_operator() for r in reports):
        return FAILURE
    if any(r.undone() for r in reports):
        return INCOMPLETE
    return OK
