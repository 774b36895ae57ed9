"""The Prometheus rules in docs/ops: valid, unit-tested by promtool, each alert with a runbook.

promtool comes with Debian's `prometheus` package (.ci/run installs it). Outside CI a
machine without it skips the two promtool tests, saying so; in CI they fail instead.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from storefront.ops.slo_rules import slo_rules_yaml
from toolkit.manifest import ownership_manifest

ROOT = Path(__file__).resolve().parents[2]
OPS = ROOT / "docs" / "ops"
RULE_FILES = ("prometheus-rules.yml", "prometheus-slo-rules.yml", "prometheus-alerts.yml")
TESTS_FILE = OPS / "prometheus-rules.test.yml"


def _promtool() -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing in CI: .ci/run installs Debian's prometheus")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return promtool


def _alerts() -> dict[str, dict]:
    alerts = {}
    for name in RULE_FILES:
        for group in yaml.safe_load((OPS / name).read_text())["groups"]:
            alerts.update({rule["alert"]: rule for rule in group["rules"] if "alert" in rule})
    return alerts


def test_the_slo_rules_file_is_what_the_ownership_manifest_gives():
    committed = (OPS / "prometheus-slo-rules.yml").read_text()

    assert committed == slo_rules_yaml(ownership_manifest()), "run: python manage.py slo_rules"


def test_promtool_finds_the_rules_valid():
    result = subprocess.run(
        [_promtool(), "check", "rules", *RULE_FILES],
        cwd=OPS,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_passes_its_promtool_unit_tests():
    result = subprocess.run(
        [_promtool(), "test", "rules", TESTS_FILE.name],
        cwd=OPS,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_case_that_fires_it():
    cases = yaml.safe_load(TESTS_FILE.read_text())["tests"]
    fired = {
        check["alertname"]
        for case in cases
        for check in case.get("alert_rule_test", [])
        if check.get("exp_alerts")
    }

    assert set(_alerts()) <= fired


def test_every_alert_has_a_case_that_keeps_it_quiet():
    cases = yaml.safe_load(TESTS_FILE.read_text())["tests"]
    quiet = {
        check["alertname"]
        for case in cases
        for check in case.get("alert_rule_test", [])
        if not check.get("exp_alerts")
    }

    assert set(_alerts()) - quiet == set()


def test_every_alert_names_a_runbook_that_exists():
    for name, rule in _alerts().items():
        runbook = rule.get("annotations", {}).get("runbook", "")
        assert runbook == f"docs/runbooks/{name}.md", name
        assert (ROOT / runbook).is_file(), runbook


def test_the_grafana_dashboard_reads_known_series_and_shows_the_burn_rates():
    dashboard = json.loads((OPS / "grafana-dashboard.json").read_text())
    recorded = {
        rule["record"]
        for name in RULE_FILES
        for group in yaml.safe_load((OPS / name).read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    }
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    ids = [panel["id"] for panel in dashboard["panels"]]

    assert len(ids) == len(set(ids))
    for expr in exprs:
        names = set(re.findall(r"\b(peakstore[:_][a-z0-9_:]+)", expr))
        assert names, expr
        for name in names:
            assert name in recorded or not name.startswith("peakstore:"), name
    assert any("slo_latency_bad" in expr for expr in exprs)
    assert any("slo_errors_bad" in expr for expr in exprs)
