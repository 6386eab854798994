"""worker.threads: K jobs at once per worker process, real processes against the simulator."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace

from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from shared.jobs import QUEUE_NAME, enqueue, reconcile_job
from shared.notification_enqueuer import NotificationEnqueuer
from shared.order_store import OrderStore
from tests.support.worker import rq_queue, spawn_worker
from tests.worker.test_faults import WAIT_S, notification_for, wait_until
from worker.pool import WORKER_TTL_S
from worker.recovery import JobLeases
from worker.threads import ThreadWorker


def _running(client) -> set[str]:
    started = StartedJobRegistry(QUEUE_NAME, connection=client, serializer=JSONSerializer)
    return {entry.split(":")[0] for entry in started.get_job_ids(cleanup=False)}


def _status(client, job_id: str) -> JobStatus:
    return Job.fetch(job_id, connection=client, serializer=JSONSerializer).get_status()


def test_one_process_runs_its_threads_jobs_at_once(ctx, sim, worker_settings) -> None:
    sim.set_fault("/v1/order", latency_s=1.5)
    events = NotificationEnqueuer(ctx.redis, ctx.settings)
    ids = [events.enqueue(notification_for(sim), time.time()).job_id for _ in range(4)]
    worker = spawn_worker(worker_settings, "--processes", "1", "--threads", "4")
    try:
        wait_until(lambda: _running(ctx.redis) == set(ids))  # all four started, none finished yet
        sim.clear_faults()
        wait_until(lambda: all(_status(ctx.redis, job_id) == JobStatus.FINISHED for job_id in ids))
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=WAIT_S)


def test_sigterm_finishes_the_jobs_in_hand_and_takes_no_new_one(ctx, sim, worker_settings) -> None:
    sim.set_fault("/v1/order", latency_s=1.5)
    events = NotificationEnqueuer(ctx.redis, ctx.settings)
    payloads = [notification_for(sim) for _ in range(5)]
    ids = [events.enqueue(payload, time.time()).job_id for payload in payloads]
    worker = spawn_worker(worker_settings, "--processes", "1", "--threads", "3")
    wait_until(lambda: len(_running(ctx.redis)) == 3)
    in_hand = _running(ctx.redis)
    os.kill(worker.pid, signal.SIGTERM)
    assert worker.wait(timeout=WAIT_S) == 0
    assert {job_id for job_id in ids if _status(ctx.redis, job_id) == JobStatus.FINISHED} == in_hand
    assert rq_queue(ctx.redis).count == 2
    store = OrderStore(ctx.redis)
    assert sum(1 for payload in payloads if store.get(payload["id"]) is not None) == 3


def test_a_job_over_its_timeout_is_stopped_in_its_thread(ctx, sim, worker_settings) -> None:
    sim.set_fault("/v1/order", latency_s=3.0)
    settings = replace(worker_settings, job_timeout_s=1, retry_s=(), api_timeout_s=5.0)
    job = reconcile_job(notification_for(sim), time.time(), settings)
    enqueue(ctx.redis, job)
    worker = spawn_worker(replace(worker_settings, api_timeout_s=5.0), "--threads", "2")
    try:
        wait_until(lambda: _status(ctx.redis, job.id) == JobStatus.FAILED)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=WAIT_S)
    failed = Job.fetch(job.id, connection=ctx.redis, serializer=JSONSerializer)
    assert "JobTimeoutException" in (failed.latest_result().exc_string or "")


def test_threads_of_two_processes_apply_each_order_once(ctx, sim, worker_settings) -> None:
    """Eight threads racing on three jobs per notification: one transition each."""
    events = NotificationEnqueuer(ctx.redis, ctx.settings)
    payloads = [notification_for(sim) for _ in range(20)]
    for payload in payloads:
        events.enqueue(payload, time.time())
        for _ in range(2):
            enqueue(ctx.redis, reconcile_job(payload, time.time(), ctx.settings))
    worker = spawn_worker(worker_settings, "--processes", "2", "--threads", "4", "--burst")
    assert worker.wait(timeout=WAIT_S * 2) == 0
    store = OrderStore(ctx.redis)
    assert [store.get(p["id"]).status for p in payloads] == ["completed"] * len(payloads)
    assert [len(store.get(p["id"]).history) for p in payloads] == [1] * len(payloads)
    assert ctx.redis.xlen("stripay:transitions") == len(payloads)


def test_a_busy_thread_renews_its_worker_key_as_each_job_starts_not_before_each_take(ctx, sim) -> None:
    events = NotificationEnqueuer(ctx.redis, ctx.settings)
    for _ in range(3):
        events.enqueue(notification_for(sim), time.time())
    ttls_after_job: list[int] = []
    renewals_of_their_own: list[int | None] = []  # heartbeats in a round trip of their own

    class Probe(ThreadWorker):
        def heartbeat(self, timeout=None, pipeline=None) -> None:
            if pipeline is None:
                renewals_of_their_own.append(timeout)
            super().heartbeat(timeout, pipeline)

        def execute_job(self, job, queue) -> None:
            super().execute_job(job, queue)
            ttls_after_job.append(ctx.redis.ttl(self.key))

    Probe([QUEUE_NAME], connection=ctx.redis, leases=JobLeases(ctx.redis, renew_in_thread=False)).run(burst=True)
    assert len(ttls_after_job) == 3 and min(ttls_after_job) > WORKER_TTL_S + 60 - 5  # not the job's lease
    assert renewals_of_their_own == [None]  # before the first take only
