"""Worker processes under faults: killed mid-job, Redis restarted."""

import os
import signal
import time
from collections.abc import Callable

from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from shared.notification_enqueuer import NotificationEnqueuer
from shared.jobs import QUEUE_NAME
from shared.order_store import OrderStore
from tests.support.payloads import signed
from tests.support.worker import rq_queue, spawn_worker

WAIT_S = 30.0


def wait_until(condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def wait_running(client, job_id: str) -> None:
    """Until a worker has started ``job_id`` (it is in RQ's started registry)."""
    started = StartedJobRegistry(QUEUE_NAME, connection=client, serializer=JSONSerializer)
    wait_until(lambda: job_id in [entry.split(":")[0] for entry in started.get_job_ids(cleanup=False)])


def notification_for(sim, status: str = "completed") -> dict:
    order = sim.create_order()
    return signed({k: v for k, v in sim.set_status(order["id"], status).items() if k != "sign"})


def test_job_of_a_worker_killed_mid_job_is_retried_not_lost(ctx, sim, worker_settings) -> None:
    payload = notification_for(sim)
    sim.set_fault("/v1/order", latency_s=1.5)
    job_id = NotificationEnqueuer(ctx.redis, ctx.settings).enqueue(payload, time.time()).job_id
    worker = spawn_worker(worker_settings)
    try:
        wait_running(ctx.redis, job_id)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # the pool and its worker process, mid-job
        worker.wait()
    assert OrderStore(ctx.redis).get(payload["id"]) is None
    sim.clear_faults()
    # What RQ's maintenance does once the dead worker's heartbeat has expired.
    StartedJobRegistry(QUEUE_NAME, connection=ctx.redis, serializer=JSONSerializer).cleanup(timestamp=time.time() + 3600)
    assert Job.fetch(job_id, connection=ctx.redis, serializer=JSONSerializer).get_status() == JobStatus.QUEUED
    rerun = spawn_worker(worker_settings, "--burst")
    assert rerun.wait(timeout=WAIT_S) == 0
    assert Job.fetch(job_id, connection=ctx.redis, serializer=JSONSerializer).get_status() == JobStatus.FINISHED
    assert OrderStore(ctx.redis).get(payload["id"]).status == "completed"


def test_queued_jobs_survive_a_redis_kill_and_are_processed_after(ctx, sim, redis_server, worker_settings) -> None:
    payloads = [notification_for(sim) for _ in range(5)]
    events = NotificationEnqueuer(ctx.redis, ctx.settings)
    for payload in payloads:
        events.enqueue(payload, time.time())
    redis_server.restart(kill=True)
    ctx.redis.connection_pool.disconnect()
    assert rq_queue(ctx.redis).count == 5
    worker = spawn_worker(worker_settings, "--burst")
    assert worker.wait(timeout=WAIT_S) == 0
    store = OrderStore(ctx.redis)
    assert [store.get(p["id"]).status for p in payloads] == ["completed"] * 5


def test_running_worker_rides_out_a_redis_restart(ctx, sim, redis_server, worker_settings) -> None:
    worker = spawn_worker(worker_settings)
    try:
        first = notification_for(sim)
        NotificationEnqueuer(ctx.redis, ctx.settings).enqueue(first, time.time())
        store = OrderStore(ctx.redis)
        wait_until(lambda: store.get(first["id"]) is not None)
        redis_server.restart(kill=True)
        ctx.redis.connection_pool.disconnect()
        second = notification_for(sim)
        NotificationEnqueuer(ctx.redis, ctx.settings).enqueue(second, time.time())
        wait_until(lambda: store.get(second["id"]) is not None)
        assert store.get(second["id"]).status == "completed"
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=WAIT_S)


def test_sigterm_lets_the_running_job_finish(ctx, sim, worker_settings) -> None:
    payload = notification_for(sim)
    sim.set_fault("/v1/order", latency_s=1.0)
    job_id = NotificationEnqueuer(ctx.redis, ctx.settings).enqueue(payload, time.time()).job_id
    worker = spawn_worker(worker_settings)
    wait_running(ctx.redis, job_id)
    os.kill(worker.pid, signal.SIGTERM)
    assert worker.wait(timeout=WAIT_S) == 0
    assert Job.fetch(job_id, connection=ctx.redis, serializer=JSONSerializer).get_status() == JobStatus.FINISHED
    assert OrderStore(ctx.redis).get(payload["id"]).status == "completed"
