"""Workers run only this service's jobs: anything else written to the queue is
failed without being imported or called, logged and counted."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from prometheus_client import REGISTRY
from rq import Queue
from rq.job import Callback, Job
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from shared.jobs import QUEUE_NAME, RECONCILE_JOB
from tests.support.payloads import order_payload
from tests.support.worker import spawn_worker
from worker.context import WorkerContext
from worker.pool import StripayWorker

REFUSED = "stripay_jobs_refused_total"


def refused() -> float:
    return REGISTRY.get_sample_value(REFUSED) or 0.0


def run_burst(client: redis.Redis) -> None:
    StripayWorker([QUEUE_NAME], connection=client, serializer=JSONSerializer).work(
        burst=True, with_scheduler=False, logging_level="WARNING")


def failed_job(client: redis.Redis, job_id: str) -> Job:
    assert job_id in FailedJobRegistry(QUEUE_NAME, connection=client, serializer=JSONSerializer).get_job_ids()
    return Job.fetch(job_id, connection=client, serializer=JSONSerializer)


def test_a_job_naming_os_system_is_refused_not_run(redis_client: redis.Redis, tmp_path: Path,
                                                    capfd: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "ran"
    queue = Queue(QUEUE_NAME, connection=redis_client, serializer=JSONSerializer)
    job = queue.enqueue("os.system", f"touch {marker}", failure_ttl=3600, result_ttl=60)
    before = refused()
    run_burst(redis_client)
    assert not marker.exists()
    assert refused() == before + 1
    stored = failed_job(redis_client, job.id)
    assert "is not one of this service's jobs" in stored.latest_result().exc_string
    logged = capfd.readouterr()
    assert "job_refused" in logged.out + logged.err and job.id in logged.out + logged.err


def test_a_job_of_ours_with_a_foreign_callback_is_refused(redis_client: redis.Redis, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    queue = Queue(QUEUE_NAME, connection=redis_client, serializer=JSONSerializer)
    # The function is ours but would fail (no context): the failure callback must not run either.
    job = queue.enqueue(RECONCILE_JOB, order_payload(1), 0.0, on_failure=Callback("os.system"),
                        failure_ttl=3600, result_ttl=60)
    before = refused()
    run_burst(redis_client)
    assert refused() == before + 1
    assert "callback 'os.system'" in failed_job(redis_client, job.id).latest_result().exc_string
    assert not marker.exists()


def test_a_job_whose_data_cannot_be_read_is_refused(redis_client: redis.Redis, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    # RQ's default serializer (pickle): the workers read JSON only and never unpickle.
    queue = Queue(QUEUE_NAME, connection=redis_client)
    job = queue.enqueue("os.system", f"touch {marker}", failure_ttl=3600, result_ttl=60)
    before = refused()
    run_burst(redis_client)
    assert not marker.exists()
    assert refused() == before + 1
    assert job.id in FailedJobRegistry(QUEUE_NAME, connection=redis_client).get_job_ids()


def test_the_services_own_jobs_still_run(redis_client: redis.Redis, ctx: WorkerContext, sim) -> None:
    order = sim.set_status(sim.create_order(notifyUrl=None)["id"], "completed")
    queue = Queue(QUEUE_NAME, connection=redis_client, serializer=JSONSerializer)
    job = queue.enqueue(RECONCILE_JOB, {"id": order["id"]}, 0.0, "reconcile", failure_ttl=3600, result_ttl=60)
    before = refused()
    run_burst(redis_client)
    assert refused() == before
    assert Job.fetch(job.id, connection=redis_client, serializer=JSONSerializer).get_status() == "finished"
    assert ctx.store.get(order["id"]).status == "completed"


def test_a_worker_process_with_threads_refuses_it_too(redis_client: redis.Redis, settings, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    queue = Queue(QUEUE_NAME, connection=redis_client, serializer=JSONSerializer)
    job = queue.enqueue("os.system", f"touch {marker}", failure_ttl=3600, result_ttl=60)
    process = spawn_worker(settings, "--threads", "2", "--burst")
    try:
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert not marker.exists()
    stored = failed_job(redis_client, job.id)
    assert "is not one of this service's jobs" in stored.latest_result().exc_string
