"""promtool: the Prometheus config and alert rules load, every alert's unit
tests pass, and every dashboard query is valid PromQL."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.exported import DEPLOY, REPO, alert_rules, dashboard_queries, load_yaml
from tests.deploy.manifests import parse_command
from tests.deploy.promql import GRAFANA_INTERVALS

PROMETHEUS = DEPLOY / "prometheus"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is not installed (tools/ensure-promtool installs Debian's prometheus package, which has it)",
)


def promtool(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@needs_promtool
def test_alert_rules_load() -> None:
    result = promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_alert_rule_unit_tests_pass() -> None:
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_prometheus_config_loads_with_its_rules() -> None:
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    # promtool has no "check expression"; a recording rule per query does it.
    rules = [
        {"record": f"dashboard:query_{n}", "expr": GRAFANA_INTERVALS.sub("5m", expr)}
        for n, (_, expr) in enumerate(dashboard_queries())
    ]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = promtool("check", "rules", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_summary_a_runbook_and_a_severity() -> None:
    for rule in alert_rules():
        assert rule.get("annotations", {}).get("summary"), rule["alert"]
        assert len(rule.get("annotations", {}).get("runbook", "")) > 80, rule["alert"]
        assert rule.get("labels", {}).get("severity") in {"page", "ticket"}, rule["alert"]


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    document = load_yaml(PROMETHEUS / "alerts_test.yml")
    assert document["rule_files"] == ["alerts.yml"]
    firing: set[str] = set()
    quiet: set[str] = set()
    for test in document["tests"]:
        for case in test.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    alerts = {rule["alert"] for rule in alert_rules()}
    assert alerts - firing == set(), "alerts without a firing test"
    assert alerts - quiet == set(), "alerts without a not-firing test"
    assert (firing | quiet) - alerts == set(), "tests of alerts that do not exist"


def test_required_alerts_exist() -> None:
    exprs = {rule["alert"]: rule["expr"] for rule in alert_rules()}
    needed = {
        "rejections spiking": 'result="bad_signature"',
        "failed events": 'stripay_queue_jobs{state="failed"}',
        "queue too old": "stripay_queue_oldest_age_seconds",
        "API errors": "stripay_api_requests_total",
        "no notifications": "increase(stripay_notifications_total",
        "no workers": "stripay_workers",
        "worker target down": 'up{job="worker"}',
    }
    for what, fragment in needed.items():
        assert any(fragment in expr for expr in exprs.values()), what


def test_alert_job_labels_are_scrape_jobs() -> None:
    jobs = {job["job_name"] for job in load_yaml(PROMETHEUS / "prometheus.yml")["scrape_configs"]}
    assert {"receiver", "worker"} <= jobs
    for rule in alert_rules():
        for job in re.findall(r'job="([^"]+)"', rule["expr"]):
            assert job in jobs, (rule["alert"], job)


def _tool_path(tmp_path: Path, *tools: str) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in tools:
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def test_ensure_promtool_never_fails_when_it_cannot_install(tmp_path: Path) -> None:
    # No promtool and no apt-get on PATH: it says so and exits 0.
    env = {**os.environ, "PATH": _tool_path(tmp_path, "id", "head")}
    result = subprocess.run(
        [shutil.which("bash") or "/bin/bash", str(REPO / "tools" / "ensure-promtool")],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0
    assert "promtool" in result.stderr


@needs_promtool
def test_ensure_promtool_is_quiet_when_promtool_is_there() -> None:
    result = subprocess.run([str(REPO / "tools" / "ensure-promtool")], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_runbooks_name_real_commands() -> None:
    named = 0
    for rule in alert_rules():
        for command in re.findall(r"`(stripay-hooks [^`]+)`", rule["annotations"]["runbook"]):
            parse_command(shlex.split(command))
            named += 1
    assert named, "the runbooks should point at the operator commands"
