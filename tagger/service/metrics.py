"""Prometheus metrics, exposed on an optional loopback HTTP listener.

The metrics live in their own ``CollectorRegistry`` (not prometheus_client's
global one) so several daemons in one test process, or a library user's own
metrics, never collide. The listener is off unless configured.
"""

from __future__ import annotations

import contextlib
import ipaddress
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import start_http_server

from tagger.cluster.view import ClusterView
from tagger.engine.tally import CycleReport
from tagger.errors import UserError
from tagger.monitor.quotanote import QuotaNote
from tagger.service.declare import Declare
from tagger.service.health import Health

CYCLE_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


def is_loopback(host: str) -> bool:
    """Return True when ``host`` is a loopback address (or ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class MetricsServer:
    """A running listener: ``port`` is the bound port, :meth:`close` stops it."""

    def __init__(self, server: Any, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.host: str = server.server_address[0]
        self.port: int = server.server_address[1]

    def close(self) -> None:
        """Stop serving and wait for the serving thread (idempotent)."""
        if self._server is not None:
            server, self._server = self._server, None
            server.shutdown()
            server.server_close()
            self._thread.join(timeout=10)


class Metrics:
    """The daemon's counters, gauges and histogram (names are the public contract)."""

    def __init__(self) -> None:
        self._servers: list[MetricsServer] = []
        self._client_seen: dict[tuple[str, str, str], int] = {}
        self.registry = CollectorRegistry(auto_describe=True)
        # One declaration a metric: name, help text and labels beyond "account".
        new = Declare(self.registry)
        self._scanned = new.counter("tagger_messages_scanned", "Messages returned by searches.")
        self._info = new.counter("tagger_info_calls", "get-message-info calls made.")
        self._applied = new.counter("tagger_tags_applied", "Smart Tags applied.", "rule", "tag")
        self._errors = new.counter(
            "tagger_api_errors", "Failed API calls by endpoint and error kind.", "endpoint", "kind"
        )
        self._limited = new.counter("tagger_rate_limited", "Responses with HTTP 429.", "endpoint")
        self._cycle = new.histogram(
            "tagger_cycle_duration_seconds", "Duration of one polling cycle.", CYCLE_BUCKETS
        )
        self._lag = new.gauge(
            "tagger_watermark_lag_seconds", "Now minus the oldest watermark of the account."
        )
        self._success = new.gauge(
            "tagger_last_cycle_success_timestamp_seconds",
            "Unix time of the last cycle that completed without error.",
        )
        self._pauses = new.counter(
            "tagger_rule_pauses", "Rules paused by a blast-radius limit or the anomaly guard."
        )
        self._paused = new.gauge(
            "tagger_rules_paused",
            "Rules paused at the end of the last cycle (until tagger resume).",
        )
        self._awaiting = new.gauge(
            "tagger_rules_awaiting_promotion",
            "Rules that audit until tagger promote, as of the last cycle.",
        )
        self._preflight = new.counter(
            "tagger_preflight_failures", "Cycles whose preflight failed (nothing applied)."
        )
        self._backlog = new.gauge(
            "tagger_backlog_messages",
            "Messages the last cycle deferred to the next: the API quota had no turn for them.",
        )
        self._backlog_age = new.gauge(
            "tagger_backlog_oldest_seconds",
            "Age of the oldest message the last cycle deferred (0 when none).",
        )
        self._quota_accepted = new.gauge(
            "tagger_quota_accepted_per_second",
            "Calls per second the service accepted (answered other than 429) in the last cycle.",
            "endpoint",
        )
        self._quota_refill = new.gauge(
            "tagger_quota_refill_per_second",
            "The refill the client paces the endpoint to, from the rate-limit headers or"
            " observed (absent while not known).",
            "endpoint",
        )
        self._held = new.gauge(
            "tagger_held_pairs",
            "Held pairs (message, tag) a rail keeps back, per rule and reason, as of the"
            " last cycle: applied once the rail is lifted.",
            "rule",
            "reason",
        )
        self._held_seen: dict[str, set[tuple[str, str]]] = {}
        self._kill = new.gauge(
            "tagger_kill_switch",
            "1 when the last cycle ran with the kill switch on (or the account disabled).",
        )
        self._in_doubt = new.gauge(
            "tagger_claims_in_doubt",
            "Applies claimed by a node that lost the account's lease with no recorded"
            " outcome, not yet found tagged by reading back (`tagger claims` lists them).",
        )
        self._unheld = new.daemon_gauge(
            "tagger_cluster_accounts_unheld",
            "Accounts of the cluster that no node holds a lease on, as this node last saw.",
        )
        self._held_leases = new.daemon_gauge(
            "tagger_cluster_accounts_held",
            "Accounts whose lease this node holds.",
        )
        self._live_nodes = new.daemon_gauge(
            "tagger_cluster_nodes_live",
            "Nodes that renewed within one lease, as this node last saw.",
        )
        # How the daemon stands (what status --check judges): see tagger.service.health.
        self.health = Health(new)

    def messages_scanned(self, account: str, count: int = 1) -> None:
        """Count ``count`` messages returned by search for ``account``."""
        self._scanned.labels(account).inc(count)

    def info_calls(self, account: str, count: int = 1) -> None:
        """Count get-message-info calls."""
        self._info.labels(account).inc(count)

    def tag_applied(self, account: str, rule: str, tag: str, count: int = 1) -> None:
        """Count applied Smart Tags for ``rule`` and ``tag``."""
        self._applied.labels(account, rule, tag).inc(count)

    def api_error(self, account: str, endpoint: str, kind: str) -> None:
        """Count one failed call of ``endpoint`` (``kind`` e.g. ``http_500``, ``timeout``)."""
        self._errors.labels(account, endpoint, kind).inc()

    def rate_limited(self, account: str, endpoint: str) -> None:
        """Count one 429 response."""
        self._limited.labels(account, endpoint).inc()

    def observe_client(self, account: str, stats: Mapping[str, Any]) -> None:
        """Count the API errors and 429s an account's client saw since the last call.

        Given the client's cumulative counters (``ClientStats.as_dict()``), adds
        the growth of each endpoint's ``throttled`` count and ``errors`` by kind.
        """
        for endpoint, figures in stats.get("endpoints", {}).items():
            counts = {"throttled": int(figures.get("throttled", 0))}
            counts.update({f"error:{k}": int(v) for k, v in figures.get("errors", {}).items()})
            for name, total in counts.items():
                key = (account, endpoint, name)
                delta = total - self._client_seen.get(key, 0)
                self._client_seen[key] = total
                if delta <= 0:
                    continue
                if name == "throttled":
                    self._limited.labels(account, endpoint).inc(delta)
                else:
                    self._errors.labels(account, endpoint, name[6:]).inc(delta)

    def observe_quota(self, note: QuotaNote) -> None:
        """Set each endpoint's accepted calls per second and refill from a cycle's note.

        The 429s are counted by :meth:`observe_client` (``tagger_rate_limited``).
        """
        for use in note.endpoints:
            self._quota_accepted.labels(use.account, use.endpoint).set(use.accepted_per_s)
            if use.refill_per_s is not None:
                self._quota_refill.labels(use.account, use.endpoint).set(use.refill_per_s)
            else:
                with contextlib.suppress(KeyError):
                    self._quota_refill.remove(use.account, use.endpoint)

    def cycle_finished(self, account: str, seconds: float) -> None:
        """Observe the duration of one cycle."""
        self._cycle.labels(account).observe(seconds)

    def watermark_lag(self, account: str, seconds: float) -> None:
        """Set how far behind real time the account's watermark is."""
        self._lag.labels(account).set(seconds)

    def cycle_succeeded(self, account: str, at: datetime) -> None:
        """Record the time of the latest successful cycle (aware datetime)."""
        self._success.labels(account).set(at.timestamp())

    def observe_cycle(self, report: CycleReport, seconds: float, now: datetime) -> None:
        """Update the per-account figures from one finished cycle.

        Given the account's report, the cycle duration and the current time:
        counts scanned messages and info calls, observes the duration, sets the
        watermark lag from the oldest watermark, and the success time when the
        cycle had no errors. Applied tags are counted by :meth:`tag_applied` as
        they happen (the report does not keep the rule of each tag).
        """
        account = report.account
        self.messages_scanned(account, report.scanned)
        self.info_calls(account, report.info_calls)
        self.cycle_finished(account, seconds)
        if report.watermarks:
            oldest = min(report.watermarks.values())
            self.watermark_lag(account, max(0.0, (now - oldest).total_seconds()))
        if not report.errors:
            self.cycle_succeeded(account, now)
        self.observe_backlog(report, now)
        self.observe_rails(report)

    def observe_backlog(self, report: CycleReport, now: datetime) -> None:
        """Set the account's backlog from one finished cycle, at ``now``.

        The messages deferred under the quota and the age of the oldest (0
        when none). A cycle that could not run (``account_error``) says
        nothing about the backlog: the figures of the last one that ran stay.
        """
        if report.account_error is not None:
            return
        oldest = report.oldest_deferred
        age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
        self._backlog.labels(report.account).set(report.quota_deferred)
        self._backlog_age.labels(report.account).set(age)

    def observe_rails(self, report: CycleReport) -> None:
        """Update the rails' figures from one finished cycle of ``report.account``.

        Counts the pauses made in the cycle and a failed preflight; sets the
        paused and awaiting-promotion rule counts and the kill switch (0 or 1).
        """
        account = report.account
        self._pauses.labels(account).inc(len(report.new_pauses))
        if report.preflight:
            self._preflight.labels(account).inc()
        self._paused.labels(account).set(len(report.paused))
        self._awaiting.labels(account).set(len(report.awaiting))
        self._kill.labels(account).set(1 if report.kill_switch else 0)
        if report.account_error is None and not report.dry_run:
            seen = self._held_seen.setdefault(account, set())
            for rule, reason in seen - report.held_now.keys():
                self._held.labels(account, rule, reason).set(0)
            for (rule, reason), (_messages, pairs) in report.held_now.items():
                self._held.labels(account, rule, reason).set(pairs)
            seen.update(report.held_now)

    def observe_cluster(self, view: ClusterView, owner: str) -> None:
        """Set the cluster gauges from ``view`` as node ``owner`` read it."""
        for account in {row.account for row in view.leases}:
            self._in_doubt.labels(account).set(view.in_doubt.get(account, 0))
        self._unheld.set(len(view.unheld()))
        self._held_leases.set(
            sum(1 for row in view.leases if row.owner == owner and row.expires_in_s > 0)
        )
        self._live_nodes.set(len(view.live()))

    def render(self) -> bytes:
        """Return the registry in the Prometheus text exposition format."""
        data: bytes = generate_latest(self.registry)
        return data

    def start_server(
        self, host: str = "127.0.0.1", port: int = 9464, *, allow_remote: bool = False
    ) -> MetricsServer:
        """Serve ``/metrics`` on ``host:port`` in a background thread (port 0: any).

        Raises UserError for a non-loopback host without ``allow_remote`` (the
        listener has no authentication) and when the address cannot be bound.
        """
        if not allow_remote and not is_loopback(host):
            raise UserError.single(
                f"metrics listener on {host} would be reachable from other machines and has "
                "no authentication",
                hint="listen on 127.0.0.1, or set metrics.allow_remote: true behind a firewall",
            )
        try:
            server, thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise UserError.single(
                f"cannot listen for metrics on {host}:{port}: {exc.strerror or exc}"
            ) from exc
        handle = MetricsServer(server, thread)
        with contextlib.suppress(AttributeError):
            thread.name = f"metrics-{handle.port}"
        self._servers.append(handle)
        return handle

    def close(self) -> None:
        """Stop every listener started by :meth:`start_server` (idempotent)."""
        while self._servers:
            self._servers.pop().close()
