"""What the ``notify:`` webhooks are told, and in which body (pure: data in, data out).

Three events: a rule paused (by a blast-radius limit or the anomaly guard),
a reload rejected (the daemon runs its previous rules), an account's cycle
that could not run. :func:`cycle_events` finds the first and the last in a
cycle's reports; :func:`body` shapes an event for the target: tagger's own
JSON, a Slack incoming-webhook message, or a Teams message carrying an
Adaptive Card.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from tagger.engine.tally import CycleReport

Kind = Literal["rule_paused", "reload_rejected", "account_failing"]
TITLES: Mapping[str, str] = {
    "rule_paused": "Rule paused",
    "reload_rejected": "Reload rejected",
    "account_failing": "Account failing",
}
# A body carries at most this many detail lines (a rejected reload may have hundreds).
MAX_DETAILS = 10


@dataclass(frozen=True, slots=True)
class Event:
    """One thing to tell the webhooks; ``key`` is what repeats are counted by."""

    kind: Kind
    summary: str
    at: datetime
    account: str = ""
    rule: str = ""
    details: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str, str]:
        """Return (kind, account, rule): the same key is not sent twice within repeat_after."""
        return (self.kind, self.account, self.rule)


def cycle_events(
    reports: Iterable[CycleReport], paused_before: Mapping[str, frozenset[str]], at: datetime
) -> tuple[list[Event], dict[str, frozenset[str]]]:
    """Return the events of one cycle's reports, and the rules now paused per account.

    Given the reports, the rules paused per account after the previous
    cycle (an account not in it is seen for the first time: only the pauses
    made in this cycle are new then, not those from before a restart) and
    the time. A rule is reported once when it becomes paused; an account
    whose cycle could not run is reported at each such cycle (the sender
    holds back repeats).
    """
    events: list[Event] = []
    paused_now = dict(paused_before)
    for report in reports:
        account = report.account
        if report.account_error is not None:
            events.append(
                Event(
                    "account_failing",
                    f"account {account}: its cycle could not run: {report.account_error}",
                    at,
                    account=account,
                    details=tuple(report.preflight[:MAX_DETAILS]),
                )
            )
            continue  # a cycle that did not run says nothing about pauses
        current = frozenset(report.paused)
        before = paused_before.get(account)
        for rule in sorted(current):
            said = [m for m in report.new_pauses if m.startswith(f"rule {rule!r} paused")]
            if (rule in before) if before is not None else not said:
                continue
            summary = said[0] if said else (
                f"rule {rule!r} paused; nothing more is applied for it until"
                f" 'tagger resume {rule}'"
            )  # fmt: skip
            events.append(Event("rule_paused", summary, at, account=account, rule=rule))
        paused_now[account] = current
    return events, paused_now


def reload_event(problems: Iterable[str], at: datetime) -> Event:
    """Return the event of a rejected reload with its first problems."""
    listed = list(problems)
    first = listed[0] if listed else "see the log"
    return Event(
        "reload_rejected",
        f"reload rejected ({first}); the daemon runs its previous rules",
        at,
        details=tuple(listed[:MAX_DETAILS]),
    )


def body(fmt: str, event: Event, host: str) -> dict[str, Any]:
    """Return the JSON body of ``event`` for a target of format ``fmt`` (json, slack, teams)."""
    if fmt == "slack":
        return _slack(event, host)
    if fmt == "teams":
        return _teams(event, host)
    return {
        "source": "tagger",
        "host": host,
        "event": event.kind,
        "account": event.account or None,
        "rule": event.rule or None,
        "summary": event.summary,
        "details": list(event.details),
        "at": event.at.isoformat(),
    }


def _facts(event: Event, host: str) -> list[tuple[str, str]]:
    facts = [("Host", host)]
    if event.account:
        facts.append(("Account", event.account))
    if event.rule:
        facts.append(("Rule", event.rule))
    facts.append(("At", f"{event.at:%Y-%m-%d %H:%M:%S}Z"))
    return facts


def _mrkdwn(text: str) -> str:
    """Escape what Slack's mrkdwn reads as markup (&, <, >): mail text may contain them."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack(event: Event, host: str) -> dict[str, Any]:
    title = f"tagger: {TITLES[event.kind]}"
    text = f"*{_mrkdwn(title)}*\n{_mrkdwn(event.summary)}"
    if event.details:
        text += "\n" + "\n".join(f"• {_mrkdwn(d)}" for d in event.details)
    context = " · ".join(f"{k}: {_mrkdwn(v)}" for k, v in _facts(event, host))
    return {
        "text": _mrkdwn(f"{title}: {event.summary}"),  # notifications and old clients
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ],
    }


def _teams(event: Event, host: str) -> dict[str, Any]:
    card_body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": f"tagger: {TITLES[event.kind]}",
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        },
        {"type": "TextBlock", "text": event.summary, "wrap": True},
        {
            "type": "FactSet",
            "facts": [{"title": k, "value": v} for k, v in _facts(event, host)],
        },
    ]
    card_body += [{"type": "TextBlock", "text": d, "wrap": True, "isSubtle": True}
                  for d in event.details]  # fmt: skip
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": card_body,
                },
            }
        ],
    }
