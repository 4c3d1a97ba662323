"""Planning: turn rule decisions into the Smart Tag applications to make (pure).

Given what the rules decided for a message, which (message, tag) pairs the
state already records, and which tags the message already carries, return the
actions to take. Dry-run and audit-mode rules stop after this step: the plan
is reported, not executed, so a dry run makes exactly the plan a live run makes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from typing import Literal

Mode = Literal["enforce", "audit"]
SkipReason = Literal["recorded", "present", "duplicate"]


@dataclass(frozen=True, slots=True)
class Action:
    """Apply Smart Tag ``tag_id`` to message ``message_id`` because of ``rule_id``."""

    message_id: str
    tag_id: str
    tag_ref: str
    rule_id: str
    rule_hash: str
    mode: Mode

    @property
    def pair(self) -> tuple[str, str]:
        """Return the (message id, tag id) pair this action concerns."""
        return (self.message_id, self.tag_id)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A tag a rule wanted that is not applied, and why."""

    message_id: str
    tag_id: str
    rule_id: str
    reason: SkipReason


@dataclass(frozen=True, slots=True)
class Wanted:
    """One tag a matching rule wants on a message (already resolved to an id)."""

    rule_id: str
    rule_hash: str
    mode: Mode
    tag_ref: str
    tag_id: str


@dataclass(frozen=True, slots=True)
class MessagePlan:
    """The plan for one message: actions to execute and tags skipped."""

    message_id: str
    actions: tuple[Action, ...]
    skipped: tuple[Skipped, ...]

    def executable(self) -> tuple[Action, ...]:
        """Return the actions that a live run applies (enforce mode only)."""
        return tuple(a for a in self.actions if a.mode == "enforce")


def plan_message(
    message_id: str,
    wanted: Iterable[Wanted],
    recorded: Set[tuple[str, str]],
    present: Set[str],
) -> MessagePlan:
    """Plan the Smart Tag applications for one message.

    ``wanted`` lists the tags the matching rules want, in rule order;
    ``recorded`` holds the (message, tag) pairs the state already has;
    ``present`` the tag ids already on the message per get-message-info.
    A tag is applied at most once even if several rules want it: the first
    enforce-mode rule owns it (an audit rule yields to an enforce rule).
    """
    actions: dict[str, Action] = {}
    skipped: list[Skipped] = []
    for want in _enforce_first(wanted):
        pair = (message_id, want.tag_id)
        reason: SkipReason | None = None
        if pair in recorded:
            reason = "recorded"
        elif want.tag_id in present:
            reason = "present"
        elif want.tag_id in actions:
            reason = "duplicate"
        if reason is not None:
            skipped.append(Skipped(message_id, want.tag_id, want.rule_id, reason))
            continue
        actions[want.tag_id] = Action(
            message_id, want.tag_id, want.tag_ref, want.rule_id, want.rule_hash, want.mode
        )
    return MessagePlan(message_id, tuple(actions.values()), tuple(skipped))


def _enforce_first(wanted: Iterable[Wanted]) -> list[Wanted]:
    """Order wanted tags so enforce-mode rules come before audit-mode ones (stable)."""
    items = list(wanted)
    return [w for w in items if w.mode == "enforce"] + [w for w in items if w.mode != "enforce"]


def present_tag_ids(tags: Iterable[tuple[str, str, str]], by_ref: Mapping[str, str]) -> set[str]:
    """Return the ids of tags already on a message.

    ``tags`` are (id, name, path) triples from ``retentionInfo.smartTags``; the
    item shape is undocumented, so a tag known only by path or name is mapped
    to its id through ``by_ref``.
    """
    out: set[str] = set()
    for ident, name, path in tags:
        if ident:
            out.add(ident)
        for ref in (path, name):
            if ref and ref in by_ref:
                out.add(by_ref[ref])
    return out
