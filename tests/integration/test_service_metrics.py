"""Prometheus endpoint: a real listener on 127.0.0.1, scraped over HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tagger.errors import UserError
from tagger.service.metrics import Metrics


@dataclass
class Report:
    account: str
    scanned: int
    info_calls: int
    errors: list[str] = field(default_factory=list)
    watermarks: dict[str, datetime] = field(default_factory=dict)
    preflight: list[str] = field(default_factory=list)
    paused: list[str] = field(default_factory=list)
    new_pauses: list[str] = field(default_factory=list)
    awaiting: list[str] = field(default_factory=list)
    kill_switch: bool = False
    account_error: str | None = None
    quota_deferred: int = 0
    oldest_deferred: datetime | None = None
    dry_run: bool = False
    held_now: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)


def sample(text: str, series: str) -> float:
    """Return the value of ``series`` in a text exposition."""
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if name == series:
            return float(value)
    raise AssertionError(f"{series} not exposed")


def test_scrape_shows_updated_values() -> None:
    metrics = Metrics()
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    metrics.messages_scanned("corp", 3)
    metrics.info_calls("corp", 2)
    metrics.tag_applied("corp", "phish-external", "tag-123")
    metrics.tag_applied("corp", "phish-external", "tag-123")
    metrics.api_error("corp", "/api/message-finder/search", "http_500")
    metrics.rate_limited("corp", "/api/message-finder/search")
    report = Report("corp", 7, 1, watermarks={"q1": now - timedelta(minutes=5), "q2": now})
    metrics.observe_cycle(report, 4.2, now)
    metrics.observe_cycle(Report("other", 1, 0, errors=["boom"]), 1.0, now)
    held = {("phish-external", "awaiting-promotion"): (40, 44), ("bulk", "limit"): (2, 3)}
    metrics.observe_cycle(Report("held", 0, 0, held_now=held), 1.0, now)
    # The next cycle released the bulk rule's pairs: its series falls to 0, not stale.
    metrics.observe_cycle(Report("held", 0, 0, held_now=dict(list(held.items())[:1])), 1.0, now)

    server = metrics.start_server("127.0.0.1", 0)
    try:
        assert server.port > 0
        resp = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=10)
        assert resp.status_code == 200
        text = resp.text
    finally:
        metrics.close()

    assert 'tagger_messages_scanned_total{account="corp"} 10.0' in text
    assert 'tagger_info_calls_total{account="corp"} 3.0' in text
    assert (
        'tagger_tags_applied_total{account="corp",rule="phish-external",tag="tag-123"} 2.0' in text
    )
    assert (
        'tagger_api_errors_total{account="corp",endpoint="/api/message-finder/search",'
        'kind="http_500"} 1.0' in text
    )
    assert (
        'tagger_rate_limited_total{account="corp",endpoint="/api/message-finder/search"} 1.0'
        in text
    )
    assert 'tagger_cycle_duration_seconds_count{account="corp"} 1.0' in text
    assert 'tagger_cycle_duration_seconds_sum{account="corp"} 4.2' in text
    assert 'tagger_watermark_lag_seconds{account="corp"} 300.0' in text
    assert sample(text, 'tagger_last_cycle_success_timestamp_seconds{account="corp"}') == (
        now.timestamp()
    )
    # A cycle with errors is not a success.
    assert 'tagger_last_cycle_success_timestamp_seconds{account="other"}' not in text
    assert (
        'tagger_held_pairs{account="held",reason="awaiting-promotion",rule="phish-external"} 44.0'
        in text
    )
    assert 'tagger_held_pairs{account="held",reason="limit",rule="bulk"} 0.0' in text
    # Its own registry: nothing from prometheus_client's global default registry.
    assert "python_gc_objects_collected_total" not in text

    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5)


def test_two_instances_do_not_collide() -> None:
    a, b = Metrics(), Metrics()
    a.messages_scanned("x", 5)
    assert b'tagger_messages_scanned_total{account="x"} 5.0' in a.render()
    assert b'account="x"' not in b.render()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "::", "example.com"])
def test_non_loopback_host_is_refused(host: str) -> None:
    with pytest.raises(UserError, match="reachable from other machines"):
        Metrics().start_server(host, 0)


def test_port_in_use_is_a_clear_error() -> None:
    first = Metrics()
    server = first.start_server("127.0.0.1", 0)
    try:
        with pytest.raises(
            UserError, match=f"cannot listen for metrics on 127.0.0.1:{server.port}"
        ):
            Metrics().start_server("127.0.0.1", server.port)
    finally:
        server.close()


def test_client_errors_and_429s_are_counted_by_growth() -> None:
    metrics = Metrics()
    first = {"endpoints": {"/api/x": {"throttled": 2, "errors": {"ServerError": 3}}}}
    second = {"endpoints": {"/api/x": {"throttled": 5, "errors": {"ServerError": 3, "Tr": 1}}}}
    metrics.observe_client("acct", first)
    metrics.observe_client("acct", second)
    text = metrics.render().decode()
    assert 'tagger_rate_limited_total{account="acct",endpoint="/api/x"} 5.0' in text
    assert (
        'tagger_api_errors_total{account="acct",endpoint="/api/x",kind="ServerError"} 3.0' in text
    )
    assert 'tagger_api_errors_total{account="acct",endpoint="/api/x",kind="Tr"} 1.0' in text


def test_rails_figures_follow_the_cycles() -> None:
    metrics = Metrics()
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    failed = Report("corp", 0, 0, errors=["preflight"], preflight=["audit file not writable"])
    metrics.observe_cycle(failed, 0.1, now)
    paused = Report(
        "corp", 5, 5, paused=["r1", "r2"], new_pauses=["r2 over its limit"], awaiting=["r3"]
    )
    metrics.observe_cycle(paused, 1.0, now)
    metrics.observe_cycle(Report("corp", 1, 1, paused=["r1", "r2"], kill_switch=True), 1.0, now)
    text = metrics.render().decode()
    assert 'tagger_preflight_failures_total{account="corp"} 1.0' in text
    assert 'tagger_rule_pauses_total{account="corp"} 1.0' in text
    assert 'tagger_rules_paused{account="corp"} 2.0' in text
    # Gauges say the last cycle: no rule awaits promotion any more, the switch is on.
    assert 'tagger_rules_awaiting_promotion{account="corp"} 0.0' in text
    assert 'tagger_kill_switch{account="corp"} 1.0' in text
    metrics.observe_cycle(Report("corp", 1, 1), 1.0, now)
    assert 'tagger_kill_switch{account="corp"} 0.0' in metrics.render().decode()
