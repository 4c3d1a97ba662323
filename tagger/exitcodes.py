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
  searches that failed, or a stop request. Nothing was lost; running the same
  command again continues.

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

# ``tagger status --check`` (Nagios plugin convention; not the codes above).
NAGIOS_OK = 0
NAGIOS_WARNING = 1
NAGIOS_CRITICAL = 2
NAGIOS_UNKNOWN = 3


def cycle_exit_code(reports: Iterable[CycleReport]) -> int:
    """Return the exit code of a command that ran cycles (``once``, ``backfill``).

    Given the reports of every account; returns :data:`FAILURE` when an
    account's cycle could not run, a search was refused for good or a message
    was set aside, or a rule was paused by a limit in a live run (a preview's
    pause is only reported) or the preflight failed,
    :data:`INCOMPLETE` when work is left for the next run, else :data:`OK`.
    """
    reports = list(reports)
    needs_operator = (
        r.account_error is not None
        or r.set_aside
        or r.search_refused
        or r.saturated
        or (r.new_pauses and not r.dry_run)
        or r.preflight
        for r in reports
    )
    if any(needs_operator):
        return FAILURE
    if any(r.undone() for r in reports):
        return INCOMPLETE
    return OK
