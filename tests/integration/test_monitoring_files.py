"""The shipped Prometheus alert rules and Grafana dashboard: valid, tested, and reading
only metrics the daemon exports.

``promtool`` (Debian's prometheus package; ``.ci/run`` installs it) checks the
rules and runs their unit tests (``tagger-alerts.test.yaml``: each alert
fires on its condition and stays silent on healthy series). The metric names
the alerts and the dashboard read are compared with the exporter's registry.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tagger.service.metrics import Metrics
from tests.support.alerts import (
    ALERT_TESTS,
    ALERTS,
    DASHBOARD,
    alert_rules,
    dashboard_queries,
    exposed_names,
    metric_names,
)

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not found (apt-get install prometheus)"
)

# Each condition `tagger status --check` judges (tagger/monitor/checks.py), and its alerts.
CHECKS = {
    "no daemon holds the lock": {"TaggerDown"},
    "no completed cycle recorded": {"TaggerNoCompletedCycle"},
    "last completed cycle too old": {"TaggerCyclesStale", "TaggerCyclesStaleCritical"},
    "watermark lags": {"TaggerWatermarkLagging", "TaggerWatermarkLaggingCritical"},
    "quota backlog growing": {"TaggerBacklogGrowing"},
    "oldest deferred message nears the horizon": {"TaggerBacklogNearsHorizon"},
    "account stopped / cycle refused": {"TaggerAccountStopped", "TaggerCycleRefused"},
    "messages failing / set aside": {"TaggerMessagesFailing", "TaggerMessagesSetAside"},
    "rules paused": {"TaggerRulesPaused"},
    "kill switch on, account disabled": {"TaggerKillSwitchOn"},
    "rules awaiting promotion": {"TaggerRulesAwaitingPromotion"},
    "last reload rejected": {"TaggerReloadRejected"},
    "rule files do not load now": {"TaggerRuleFilesInvalid"},
    "preflight failed": {"TaggerPreflightFailed"},
    "claims in doubt": {"TaggerClaimsInDoubt"},
    "an account no node holds": {"TaggerAccountsUnheld"},
}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ALERTS.parent,
    )


@needs_promtool
def test_promtool_accepts_the_alert_rules() -> None:
    done = promtool("check", "rules", ALERTS.name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in done.stdout


@needs_promtool
def test_each_alert_fires_on_its_condition_in_promtool_unit_tests() -> None:
    done = promtool("test", "rules", ALERT_TESTS.name)
    assert done.returncode == 0, done.stdout + done.stderr
    doc = yaml.safe_load(ALERT_TESTS.read_text(encoding="utf-8"))
    cases = [case for test in doc["tests"] for case in test["alert_rule_test"]]
    fired = {case["alertname"] for case in cases if case["exp_alerts"]}
    silent = {case["alertname"] for case in cases if not case["exp_alerts"]}
    assert fired == set(alert_rules()), "every alert is shown to fire"
    assert silent == set(alert_rules()), "every alert is shown to stay silent"


@needs_promtool
def test_promtool_rejects_a_broken_rule(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(ALERTS.read_text(encoding="utf-8").replace("== 0", "== =", 1))
    done = promtool("check", "rules", str(broken))
    assert done.returncode != 0


@needs_promtool
def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses each query, put in a recording rule with Grafana's variables filled in."""
    filled = {"$__rate_interval": "5m", "$account": ".+", "$job": ".+"}
    rules = []
    for n, query in enumerate(dashboard_queries()):
        for variable, value in filled.items():
            query = query.replace(variable, value)
        if query.startswith("label_values("):  # a Grafana function: its metric selector
            query = query.removeprefix("label_values(").rsplit(",", 1)[0]
        rules.append({"record": f"tagger:dashboard_query_{n}", "expr": query})
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = promtool("check", "rules", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout


def test_every_check_has_an_alert_with_a_severity_and_a_summary() -> None:
    rules = alert_rules()
    assert set().union(*CHECKS.values()) == set(rules)
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name


def test_the_alerts_read_only_metrics_the_daemon_exports() -> None:
    exported = exposed_names(Metrics().registry) | {"up"}
    for name, rule in alert_rules().items():
        read = metric_names(rule["expr"])
        assert read, name
        assert read <= exported, (name, read - exported)


def test_the_dashboard_queries_only_metrics_the_daemon_exports() -> None:
    exported = exposed_names(Metrics().registry) | {"up"}
    queries = dashboard_queries()
    read = set().union(*(metric_names(q) for q in queries))
    assert read - {"up"}, "the dashboard reads tagger's metrics"
    assert read <= exported, sorted(read - exported)
    # Each health gauge an alert reads has a panel too.
    alerted = set().union(*(metric_names(r["expr"]) for r in alert_rules().values()))
    assert alerted - read <= {
        "tagger_schedule_interval_seconds",
        "tagger_watermark_interval_seconds",
    }, sorted(alerted - read)


def test_the_name_reader_sees_through_labels_and_functions() -> None:
    expr = 'sum by (rule) (rate(tagger_tags_applied_total{rule="tagger_x"}[5m])) > up'
    assert metric_names(expr) == {"tagger_tags_applied_total", "up"}
    assert "tagger_watermark_lag_seconds" in exposed_names(Metrics().registry)
    assert DASHBOARD.is_file()
