"""Declares the daemon's Prometheus metrics in one registry (names are the public contract).

Every per-account metric is labelled by ``account`` first, so the shipped
alert rules (``monitoring/prometheus/tagger-alerts.yaml``) can compare two
per-account series without naming labels; the few daemon-wide figures (a
reload's outcome) carry no account.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Declare:
    """Declares metrics in one registry; per-account ones are labelled by ``account`` first."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def counter(self, name: str, documentation: str, *labels: str) -> Counter:
        """Return a new counter ``name`` labelled by account and ``labels``."""
        return Counter(name, documentation, ["account", *labels], registry=self._registry)

    def gauge(self, name: str, documentation: str, *labels: str) -> Gauge:
        """Return a new gauge ``name`` labelled by account and ``labels``."""
        return Gauge(name, documentation, ["account", *labels], registry=self._registry)

    def histogram(self, name: str, documentation: str, buckets: tuple[float, ...]) -> Histogram:
        """Return a new histogram ``name`` labelled by account, with ``buckets``."""
        return Histogram(name, documentation, ["account"], buckets=buckets, registry=self._registry)

    def daemon_gauge(self, name: str, documentation: str) -> Gauge:
        """Return a new gauge ``name`` of the whole daemon (no account label)."""
        return Gauge(name, documentation, registry=self._registry)

    def daemon_counter(self, name: str, documentation: str, *labels: str) -> Counter:
        """Return a new counter ``name`` of the whole daemon, labelled by ``labels`` only."""
        return Counter(name, documentation, list(labels), registry=self._registry)
