"""Webhook delivery against a real HTTP receiver on 127.0.0.1: sent, retried, given up,
repeats held back, and the URL (which carries a token) never logged."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
import structlog

from tagger.config.notify import NotifyTarget
from tagger.service.webhook_sender import WebhookSender
from tagger.service.webhooks import Event
from tests.support.receiver import Receiver

AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
PAUSED = Event("rule_paused", "rule 'r1' paused: over its limit", AT, account="corp", rule="r1")


class Clock:
    def __init__(self) -> None:
        self.now = AT

    def __call__(self) -> datetime:
        return self.now


def deliver_all(sender: WebhookSender, targets: list[NotifyTarget], events: list[Event]) -> int:
    async def go() -> int:
        queued = sender.send(targets, events)
        await sender.close(timeout_s=30)
        return queued

    return asyncio.run(go())


def no_sleep_sender(clock: Clock | None = None) -> tuple[WebhookSender, list[float]]:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    return WebhookSender("host-1", clock or Clock(), first_delay_s=0.5, sleep=sleep), waits


@pytest.mark.parametrize("fmt", ["json", "slack", "teams"])
def test_each_format_reaches_the_receiver(fmt: str) -> None:
    with Receiver() as receiver:
        sender, _ = no_sleep_sender()
        target = NotifyTarget(url=receiver.url(), format=fmt)  # type: ignore[arg-type]
        assert deliver_all(sender, [target], [PAUSED]) == 1
        (got,) = receiver.bodies()
    text = json.dumps(got)
    assert "rule 'r1' paused" in text and "corp" in text and "host-1" in text
    if fmt == "slack":
        assert got["blocks"][0]["type"] == "section"
    if fmt == "teams":
        assert got["attachments"][0]["content"]["type"] == "AdaptiveCard"
    if fmt == "json":
        assert got["event"] == "rule_paused" and got["rule"] == "r1"


def test_5xx_and_429_are_retried_with_growing_waits_and_retry_after() -> None:
    answers = [(503, {}), (429, {"Retry-After": "7"}), (200, {})]
    with Receiver(answers) as receiver:
        sender, waits = no_sleep_sender()
        target = NotifyTarget(url=receiver.url(), max_attempts=3)
        with structlog.testing.capture_logs() as logs:
            deliver_all(sender, [target], [PAUSED])
        assert receiver.statuses == [503, 429, 200]
    assert waits == [0.5, 7.0]
    sent = [e for e in logs if e["event"] == "notify_sent"]
    assert sent and sent[0]["attempts"] == 3 and sent[0]["target"] == "notify[0] (json)"


def test_a_refusal_is_given_up_at_once_and_a_dead_receiver_after_max_attempts() -> None:
    with Receiver([(400, {})]) as receiver:
        sender, waits = no_sleep_sender()
        url = receiver.url("/T000/B000/secret-token")
        with structlog.testing.capture_logs() as logs:
            deliver_all(sender, [NotifyTarget(url=url, max_attempts=5)], [PAUSED])
        assert receiver.statuses == [400] and waits == []
    failed = [e for e in logs if e["event"] == "notify_failed"]
    assert failed and failed[0]["error"] == "http_400" and failed[0]["attempts"] == 1
    assert "secret-token" not in repr(logs)

    with Receiver() as gone:
        dead = gone.url("/secret-token")
    sender, waits = no_sleep_sender()
    with structlog.testing.capture_logs() as logs:
        deliver_all(sender, [NotifyTarget(url=dead, max_attempts=3, timeout_s=5)], [PAUSED])
    failed = [e for e in logs if e["event"] == "notify_failed"]
    assert failed and failed[0]["attempts"] == 3 and failed[0]["error"] == "ConnectError"
    assert waits == [0.5, 1.0]
    assert "secret-token" not in repr(logs)


def test_the_same_event_is_held_back_until_repeat_after_and_others_go_through() -> None:
    clock = Clock()
    other = Event("rule_paused", "rule 'r2' paused", AT, account="corp", rule="r2")
    with Receiver() as receiver:
        sender, _ = no_sleep_sender(clock)
        target = NotifyTarget(url=receiver.url(), repeat_after=timedelta(hours=1))
        only_pauses = NotifyTarget(
            url=receiver.url("/pauses"), events=frozenset({"account_failing"}), index=1
        )

        async def go() -> list[int]:
            counts = [sender.send([target, only_pauses], [PAUSED])]
            counts.append(sender.send([target, only_pauses], [PAUSED, other]))
            clock.now = AT + timedelta(minutes=61)
            counts.append(sender.send([target, only_pauses], [PAUSED]))
            await sender.close(timeout_s=30)
            return counts

        assert asyncio.run(go()) == [1, 1, 1]
        rules = [b["rule"] for b in receiver.bodies("/hook")]
    assert rules == ["r1", "r2", "r1"]
    assert receiver.bodies("/pauses") == []
