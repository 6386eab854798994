"""Every metric, label and label value a dashboard query or an alert rule uses
is one the service really exports: read from a running receiver, a running
worker, the queue collector, and the metric objects of shared.metrics."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics import MetricWrapperBase

from receiver.app import create_app
from receiver.metrics_server import create_metrics_app
from shared import metrics, queue_metrics
from shared.embedded_redis import EmbeddedRedis, free_port
from shared.notification_enqueuer import NotificationEnqueuer
from shared.queue_metrics import queue_client_factory, register_queue_collector, unregister_queue_collector
from shared.settings import Settings
from tests.deploy.exported import (
    PROMETHEUS_SERIES,
    REPO,
    SUFFIXES,
    TARGET_LABELS,
    Exported,
    all_queries,
    dashboard_queries,
)
from tests.deploy.promql import plain_alternatives, read_query
from tests.support.metrics import changes, samples
from tests.support.payloads import MERCHANT_KEY, order_payload

NOTIFY = "/stripay/notify"

# Labels whose every value is created up front; a query asking for another
# value is a typo that would make a panel empty or an alert never fire.
ENUMERATED = {
    ("stripay_notifications_total", "result"): set(metrics.NOTIFY_RESULTS),
    ("stripay_reconcile_total", "outcome"): set(metrics.RECONCILE_OUTCOMES),
    ("stripay_queue_jobs", "state"): set(queue_metrics.QUEUE_STATES),
}


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.read().decode()


@pytest.fixture(scope="module")
def worker_metrics(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """/metrics of a real `stripay-hooks worker` that has run one reconcile job.

    The Stripay API URL points at a closed port, so the job's API call fails
    fast and the API metrics get their first labelled samples."""
    if redis_server.process is None or redis_server.process.poll() is not None:
        redis_server.start()
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    settings = Settings(merchant_keys=(MERCHANT_KEY,), redis_url=redis_server.url, retry_s=(60,))
    NotificationEnqueuer(client, settings).enqueue(order_payload(1), time.time())
    port = free_port()
    env = dict(os.environ)
    env.update(
        REDIS_URL=redis_server.url,
        STRIPAY_MERCHANT_KEY=MERCHANT_KEY,
        STRIPAY_API_URL=f"http://127.0.0.1:{free_port()}",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path_factory.mktemp("worker-metrics")),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "worker", "--processes", "1", "--metrics-port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    text = ""
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"worker exited with {process.returncode}: {process.stderr.read().decode()[-2000:]}")
            try:
                text = scrape(f"http://127.0.0.1:{port}/metrics")
            except OSError:
                text = ""
            if "stripay_api_requests_total{" in text:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the worker's metrics never showed the API request of its job:\n" + text[-3000:])
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        client.flushall()
        client.close()
    yield text


@pytest.fixture
async def receiver_metrics(aiohttp_client, settings: Settings) -> AsyncIterator[str]:
    register_queue_collector(queue_client_factory(settings.redis_url))  # as the receiver command does
    client = await aiohttp_client(create_app(settings))
    series = [("stripay_notifications_total", {"result": "accepted"}),
              ("stripay_notifications_total", {"result": "bad_signature"})]
    before = samples(*series)
    assert (await client.post(NOTIFY, json=order_payload(7))).status == 200
    assert (await client.post(NOTIFY, json={**order_payload(8), "sign": "0" * 32})).status == 403
    assert changes(before, samples(*series)) == [1, 1]
    response = await (await aiohttp_client(create_metrics_app())).get("/metrics")
    assert response.status == 200
    yield await response.text()
    unregister_queue_collector()


@pytest.fixture
def collector_metrics(redis_url: str) -> Iterator[str]:
    registry = CollectorRegistry()
    register_queue_collector(queue_client_factory(redis_url), registry)
    yield generate_latest(registry).decode()
    unregister_queue_collector(registry)


@pytest.fixture
def exported(receiver_metrics: str, worker_metrics: str, collector_metrics: str) -> Exported:
    everything = Exported()
    everything.add_text(receiver_metrics, "receiver /metrics")
    everything.add_text(worker_metrics, "worker /metrics")
    everything.add_text(collector_metrics, "queue collector")
    everything.add_metric_objects(metrics, "shared.metrics")
    for name, labels in PROMETHEUS_SERIES.items():
        everything.add_name(name, labels, "prometheus")
    return everything


def test_the_running_receiver_exports_its_metrics(receiver_metrics: str) -> None:
    exported = Exported()
    exported.add_text(receiver_metrics, "receiver")
    assert {
        "stripay_notifications_total",
        "stripay_notify_ack_seconds_bucket",
        "stripay_notify_ack_seconds_count",
        "stripay_rejected_quarantined_total",
    } <= exported.names
    assert {"accepted", "bad_signature"} <= exported.values[("stripay_notifications_total", "result")]


def test_the_running_receiver_exports_the_queue_gauges(receiver_metrics: str) -> None:
    exported = Exported()
    exported.add_text(receiver_metrics, "receiver")
    assert {"stripay_queue_jobs", "stripay_queue_oldest_age_seconds", "stripay_redis_up"} <= exported.names


def test_the_running_worker_exports_its_metrics(worker_metrics: str) -> None:
    exported = Exported()
    exported.add_text(worker_metrics, "worker")
    assert {
        "stripay_reconcile_total",
        "stripay_reconcile_seconds_bucket",
        "stripay_api_requests_total",
        "stripay_api_request_seconds_bucket",
        "stripay_end_to_end_seconds_bucket",
    } <= exported.names
    assert {"endpoint", "code"} <= exported.labels["stripay_api_requests_total"]


def test_every_metric_in_the_dashboard_and_alerts_is_exported(exported: Exported) -> None:
    missing = [
        f"{where}: {metric}"
        for where, expr in all_queries()
        for metric in sorted(read_query(expr).metrics)
        if metric not in exported.names
    ]
    assert not missing, "not exported by the service:\n" + "\n".join(missing)


def test_every_matcher_uses_a_label_the_metric_has(exported: Exported) -> None:
    wrong = []
    for where, expr in all_queries():
        for selector in read_query(expr).selectors:
            known = exported.labels.get(selector.metric, set()) | TARGET_LABELS | {"__name__"}
            wrong += [f"{where}: {selector.metric}{{{m.label}}}" for m in selector.matchers if m.label not in known]
    assert not wrong, "labels the metric does not have:\n" + "\n".join(wrong)


def test_every_grouping_label_belongs_to_a_metric_of_the_query(exported: Exported) -> None:
    wrong = []
    for where, expr in all_queries():
        query = read_query(expr)
        known = set(TARGET_LABELS)
        for metric in query.metrics:
            known |= exported.labels.get(metric, set())
        wrong += [f"{where}: by ({label})" for label in query.grouping_labels if label not in known]
    assert not wrong, "grouping by labels no metric of the query has:\n" + "\n".join(wrong)


def test_enumerated_label_values_exist() -> None:
    wrong = []
    for where, expr in all_queries():
        for selector in read_query(expr).selectors:
            for matcher in selector.matchers:
                allowed = ENUMERATED.get((selector.metric, matcher.label))
                values = plain_alternatives(matcher)
                if allowed is None or values is None:
                    continue
                wrong += [f"{where}: {matcher.label}={value!r}" for value in values if value not in allowed]
    assert not wrong, "label values the service never exports:\n" + "\n".join(wrong)


def test_queries_use_known_functions_and_no_unknown_variables() -> None:
    unknown = [f"{where}: {name}" for where, expr in all_queries() for name in read_query(expr).unknown]
    assert not unknown, "unknown PromQL functions or template variables:\n" + "\n".join(unknown)


def test_histograms_are_queried_through_their_series() -> None:
    histograms = {m._name for m in vars(metrics).values() if isinstance(m, MetricWrapperBase) and m._type == "histogram"}
    wrong = []
    for where, expr in all_queries():
        query = read_query(expr)
        wrong += [f"{where}: {name} (use _bucket, _sum or _count)" for name in query.metrics if name in histograms]
        if "histogram_quantile" in query.functions:
            if not any(name.endswith("_bucket") for name in query.metrics):
                wrong.append(f"{where}: histogram_quantile without a _bucket series")
            if query.grouping_labels and "le" not in query.grouping_labels:
                wrong.append(f"{where}: histogram_quantile must keep the le label")
    assert not wrong, "\n".join(wrong)


def test_the_dashboard_shows_every_metric_the_service_defines() -> None:
    used = {metric for _, expr in dashboard_queries() for metric in read_query(expr).metrics}
    series = {
        m._name: {m._name + suffix for suffix in SUFFIXES[m._type]}
        for m in vars(metrics).values()
        if isinstance(m, MetricWrapperBase)
    }
    for name in (queue_metrics.JOBS, queue_metrics.OLDEST_AGE, queue_metrics.REJECTED, queue_metrics.WORKERS,
                 queue_metrics.REDIS_UP):
        series[name] = {name}
    unused = sorted(name for name, names in series.items() if not names & used)
    assert not unused, f"defined but on no dashboard panel: {unused}"
