"""deploy/Dockerfile builds the project as packaged, runs as non-root, serves the
receiver and probes a real path; the dashboard JSON is a loadable dashboard."""

from __future__ import annotations

import fnmatch
import json
import shlex
import tomllib

import pytest

from tests.deploy.exported import DEPLOY, REPO, dashboard, dashboard_panels
from tests.deploy.manifests import parse_command, receiver_get_paths

DOCKERFILE = DEPLOY / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = (pending + stripped).strip()
        pending = ""
        keyword, _, rest = full.partition(" ")
        lines.append((keyword.upper(), rest.strip()))
    return lines


def final_stage() -> list[tuple[str, str]]:
    found = instructions()
    start = max(i for i, (keyword, _) in enumerate(found) if keyword == "FROM")
    return found[start:]


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"use the exec form: {args}"
    return value


def test_final_image_is_python_311_slim() -> None:
    keyword, args = final_stage()[0]
    assert args.split()[0] == "python:3.11-slim"


def test_runs_as_a_non_root_user_after_installing() -> None:
    stage = final_stage()
    users = [i for i, (keyword, _) in enumerate(stage) if keyword == "USER"]
    assert users, "no USER in the final stage"
    user = stage[users[-1]][1].split(":")[0]
    assert user not in {"root", "0"}
    last_run = max(i for i, (keyword, _) in enumerate(stage) if keyword == "RUN")
    assert users[-1] > last_run, "USER must come after the last RUN"


def test_default_command_is_the_receiver_on_8080_with_a_healthcheck() -> None:
    stage = dict(final_stage())
    assert parse_command(exec_form(stage["CMD"]))[0] == "receiver"
    assert stage["EXPOSE"].split() == ["8080", "9107"]  # the public port, then /metrics
    assert "PORT=8080" in stage["ENV"].split()
    assert "METRICS_PORT=9107" in stage["ENV"].split()
    healthcheck = stage["HEALTHCHECK"]
    assert "/healthz" in healthcheck and "/healthz" in receiver_get_paths()


def test_installs_the_project_without_dev_dependencies() -> None:
    runs = " ".join(args for keyword, args in instructions() if keyword == "RUN")
    assert "pip" in runs
    for dev in ("[test]", "[embedded]", "pytest", "-e ", "--editable"):
        assert dev not in runs, dev


def test_copies_every_package_the_project_installs() -> None:
    copied = set()
    for keyword, args in instructions():
        if keyword == "COPY" and not args.startswith("--from"):
            *sources, _ = shlex.split(args)
            for source in sources:
                assert (REPO / source).exists(), f"COPY {source}: not in the repository root (the build context)"
                copied.add(source.rstrip("/"))
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {
        path.name
        for path in REPO.iterdir()
        if (path / "__init__.py").is_file() and any(fnmatch.fnmatch(path.name, p) for p in patterns)
    }
    assert packages <= copied, f"packages not copied into the image: {packages - copied}"
    assert {"pyproject.toml", project["project"]["readme"]} <= copied


def test_dockerignore_lets_every_copied_source_through() -> None:
    rules = [
        line.strip()
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "**"
    allowed = {rule[1:] for rule in rules if rule.startswith("!")}
    for keyword, args in instructions():
        if keyword == "COPY" and not args.startswith("--from"):
            for source in shlex.split(args)[:-1]:
                assert source.rstrip("/") in allowed, source


def test_dashboard_is_a_provisionable_grafana_dashboard() -> None:
    board = dashboard()
    assert board["uid"] and board["title"] and board["schemaVersion"] >= 30
    panels = dashboard_panels()
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    (variable,) = [v for v in board["templating"]["list"] if v["type"] == "datasource"]
    assert variable["query"] == "prometheus"
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"]), panel["title"]
        assert panel["targets"], panel["title"]
        assert panel["datasource"]["uid"] == "${%s}" % variable["name"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"]


@pytest.mark.parametrize("topic, fragment", [
    ("notifications by result", "sum by (result) (rate(stripay_notifications_total"),
    ("ack latency percentiles", "histogram_quantile(0.99, sum by (le) (rate(stripay_notify_ack_seconds_bucket"),
    ("reconcile outcomes", "stripay_reconcile_total"),
    ("API latency", "stripay_api_request_seconds_bucket"),
    ("API errors", 'stripay_api_requests_total{code!~"2.."}'),
    ("transitions by status", "stripay_order_transitions_total"),
    ("queue depth", "stripay_queue_jobs"),
    ("queue age", "stripay_queue_oldest_age_seconds"),
    ("failed", 'stripay_queue_jobs{state="failed"}'),
    ("rejected", "stripay_rejected_notifications"),
    ("end-to-end latency", "stripay_end_to_end_seconds_bucket"),
])
def test_dashboard_has_a_panel_for(topic: str, fragment: str) -> None:
    exprs = [target["expr"] for panel in dashboard_panels() for target in panel.get("targets", [])]
    assert any(fragment in expr for expr in exprs), topic
