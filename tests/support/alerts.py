"""The shipped alert rules and dashboard, and the metrics they read, for the tests.

Reads ``monitoring/``: each alert's expression, the dashboard's queries, and
the metric names both name; scrapes a live ``/metrics`` listener into samples.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from testkit import ROOT

MONITORING = ROOT / "monitoring"
ALERTS = MONITORING / "prometheus" / "tagger-alerts.yaml"
ALERT_TESTS = MONITORING / "prometheus" / "tagger-alerts.test.yaml"
DASHBOARD = MONITORING / "grafana" / "tagger-dashboard.json"

# A metric name in PromQL: tagger's own, or the scrape's ``up``.
_NAME = re.compile(r"\b(tagger_[a-z0-9_]+|up)\b")
# Series a family of each type exposes, by suffix.
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gauge": ("",),
}

Sample = tuple[str, dict[str, str], float]


def alert_rules(path: Path = ALERTS) -> dict[str, dict[str, Any]]:
    """Return the alerting rules of ``path`` by alert name."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {r["alert"]: r for group in doc["groups"] for r in group["rules"] if "alert" in r}


def dashboard_queries(path: Path = DASHBOARD) -> list[str]:
    """Return every PromQL query of the dashboard: its panels' targets and its variables."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    out: list[str] = []

    def panels(items: Iterable[dict[str, Any]]) -> None:
        for panel in items:
            out.extend(t["expr"] for t in panel.get("targets", ()))
            panels(panel.get("panels", ()))

    panels(doc["panels"])
    for variable in doc.get("templating", {}).get("list", ()):
        query = variable.get("query")
        if variable.get("type") == "query":
            out.append(query["query"] if isinstance(query, dict) else query)
    return out


def metric_names(expr: str) -> set[str]:
    """Return the metric names a PromQL expression reads (label values and functions aside)."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_labels = re.sub(r"\{[^}]*\}", "{}", without_strings)
    return set(_NAME.findall(without_labels))


def exposed_names(registry: CollectorRegistry) -> set[str]:
    """Return every series name the families of ``registry`` expose (with their suffixes)."""
    out: set[str] = set()
    for family in registry.collect():
        out |= {family.name + suffix for suffix in _SUFFIXES[family.type]}
    return out


def scrape(port: int) -> list[Sample]:
    """Return the samples of a live ``/metrics`` listener on 127.0.0.1."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return [
        (s.name, dict(s.labels), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def value(samples: Iterable[Sample], name: str, **labels: str) -> float | None:
    """Return the value of the sample ``name`` with ``labels`` (None when not exposed)."""
    for sample_name, sample_labels, sample_value in samples:
        if sample_name == name and all(sample_labels.get(k) == v for k, v in labels.items()):
            return sample_value
    return None
