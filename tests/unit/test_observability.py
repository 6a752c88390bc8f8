"""The shipped Prometheus configuration, alert rules and Grafana dashboards: promtool accepts
them, every alert has a unit test that makes it fire (promtool test rules), every dashboard
query parses, and the checked-in files are what their generators write."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]

from shared.devstack import dashboards, prometheus

pytestmark = pytest.mark.unit
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing: `make test` installs Debian's prometheus"
)
RULES = prometheus.RULES / "fieldpay.yml"
RULE_TESTS = prometheus.RULES / "fieldpay.test.yml"


def promtool(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(PROMTOOL), *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@needs_promtool
def test_promtool_accepts_the_configuration_and_the_rules() -> None:
    promtool("check", "config", "prometheus.yml", cwd=prometheus.CONFIG.parent)
    assert "SUCCESS: 11 rules found" in promtool("check", "rules", str(RULES))


@needs_promtool
def test_every_alert_fires_in_its_promtool_unit_test() -> None:
    alerts = {
        rule["alert"]
        for group in yaml.safe_load(RULES.read_text())["groups"]
        for rule in group["rules"]
    }
    tested = {
        case["alertname"]
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test["alert_rule_test"]
        if case.get("exp_alerts")
    }
    assert alerts == tested
    assert "SUCCESS" in promtool("test", "rules", str(RULE_TESTS))


def test_every_alert_has_a_runbook_section() -> None:
    runbook = (prometheus.RULES.parents[2] / "docs" / "runbooks.md").read_text().lower()
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            anchor = rule["annotations"]["runbook_url"].split("#")[1]
            assert f"## {anchor}" in runbook.replace("`", ""), anchor


@needs_promtool
def test_every_dashboard_query_parses(tmp_path: Path) -> None:
    """promtool parses the queries as recording rules (a syntax check without a server)."""
    found = dashboards.queries()
    assert len(found) >= 25
    records = [
        {"record": f"panel:{n}", "expr": expr} for n, (_board, _panel, expr) in enumerate(found)
    ]
    rules = tmp_path / "panels.yml"
    rules.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": records}]}))
    assert f"SUCCESS: {len(records)} rules found" in promtool("check", "rules", str(rules))


def test_the_checked_in_files_are_what_the_generators_write() -> None:
    for path, text in dashboards.rendered().items():
        assert path.read_text() == text, f"{path.name}: run `make dashboards`"
        board = json.loads(text)
        assert board["uid"].startswith("fieldpay-") and board["panels"]
    expected = prometheus.config(prometheus.fixed_targets(), Path("rules"))
    assert prometheus.CONFIG.read_text() == expected, "run `make dashboards`"
    assert prometheus.K8S_RULES.read_text() == prometheus.prometheus_rule(), "make dashboards"
    jobs = {job["job_name"] for job in yaml.safe_load(expected)["scrape_configs"]}
    assert len(jobs) == 17  # every web and worker process of the platform
