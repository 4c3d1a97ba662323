"""Errors raised by the state store.

The messages are written for an operator: what went wrong with which file and
what to do about it. They never carry message bodies or credentials.
"""

from __future__ import annotations


class StateError(Exception):
    """The state file cannot be used (corrupt, too new, read-only, unreadable)."""


class StateLocked(StateError):
    """Another process holds the single-writer lock of the state file."""


class StateGone(StateError):
    """The state file was deleted or replaced under the process using it."""


class LedgerMissing(StateError):
    """A read-only open found no ledger yet (tagger has not run against it)."""


class StateDamaged(StateError):
    """The state file fails SQLite's integrity check (page-level corruption)."""


class LeaseLost(StateError):
    """A fenced write found this node no longer holds the account's lease at its epoch.

    The transaction was rolled back; the node must drop the account at once.
    """
