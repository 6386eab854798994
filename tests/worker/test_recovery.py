"""worker.recovery: jobs of dead workers back on the queue, with their retries untouched."""

from __future__ import annotations

import os
import signal
import time

import pytest
import redis
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from shared.jobs import (
    QUEUE_NAME,
    RQ_INTERMEDIATE_KEY,
    RQ_QUEUE_KEY,
    RQ_SCHEDULER_LOCK_KEY,
    RQ_STARTED_KEY,
    enqueue,
    reconcile_job,
)
from shared.keys import RECOVERY_LOCK_KEY
from shared.notification_enqueuer import NotificationEnqueuer
from shared.order_store import OrderStore
from shared.settings import Settings
from tests.support.worker import spawn_worker
from worker.pool import StripayWorker
from worker.recovery import LEASE_S, SCHEDULER_LOCK_TTL_S, STUCK_S, JobLeases, PassResult, Recovery


def _enqueue(client: redis.Redis, settings: Settings) -> Job:
    job = reconcile_job({"id": 1, "status": "completed"}, time.time(), settings)
    enqueue(client, job)
    return job


def _worker(client: redis.Redis) -> StripayWorker:
    worker = StripayWorker([QUEUE_NAME], connection=client)
    worker.register_birth()
    return worker


def _take(client: redis.Redis) -> Job:
    """What a worker does first: the job moves from the queue to RQ's intermediate list."""
    queue = Queue(QUEUE_NAME, connection=client, serializer=JSONSerializer)
    job, _ = Queue.dequeue_any([queue], None, connection=client, serializer=JSONSerializer)
    return job


def _start(client: redis.Redis, worker: StripayWorker) -> Job:
    """A worker takes a job and starts it (then dies: nothing more happens)."""
    job = _take(client)
    worker.prepare_execution(job)
    worker.prepare_job_execution(job, remove_from_intermediate_queue=True)
    return job


def _pass(client: redis.Redis, at: float) -> PassResult | None:
    """One recovery pass as of wall-clock time ``at``, by a worker that has seen Redis long enough."""
    client.delete(RECOVERY_LOCK_KEY)
    return Recovery(client, settle_s=0, clock=lambda: at).run()


def _handed_back(client: redis.Redis, at: float) -> tuple[int, int]:
    """(from the started registry, from the intermediate list) in one pass as of ``at``."""
    result = _pass(client, at)
    assert result is not None
    return result.from_started, result.from_intermediate


def _status(client: redis.Redis, job: Job) -> JobStatus:
    return Job.fetch(job.id, connection=client, serializer=JSONSerializer).get_status()


def test_a_started_job_holds_a_lease_not_rqs_timeout_plus_60_s(redis_client, settings) -> None:
    job = _enqueue(redis_client, settings)
    before = time.time()
    _start(redis_client, _worker(redis_client))
    (entry, score), = redis_client.zrange(RQ_STARTED_KEY, 0, -1, withscores=True)
    assert entry.decode().startswith(job.id + ":")
    assert before + LEASE_S - 1 <= score <= time.time() + LEASE_S + 1


def test_a_dead_workers_job_is_handed_back_once_its_lease_ran_out(redis_client, settings) -> None:
    job = _enqueue(redis_client, settings)
    _start(redis_client, _worker(redis_client))
    assert _handed_back(redis_client, time.time()) == (0, 0)  # the lease still runs
    assert _handed_back(redis_client, time.time() + LEASE_S + 1) == (1, 0)
    assert _status(redis_client, job) == JobStatus.QUEUED
    assert redis_client.lrange(RQ_QUEUE_KEY, 0, -1) == [job.id.encode()]
    assert redis_client.zcard(RQ_STARTED_KEY) == 0


def test_five_crashes_spend_none_of_the_retries(redis_client, settings) -> None:
    job = _enqueue(redis_client, settings)
    retries = Job.fetch(job.id, connection=redis_client, serializer=JSONSerializer).retries_left
    for _ in range(5):
        _start(redis_client, _worker(redis_client))
        assert _handed_back(redis_client, time.time() + LEASE_S + 1) == (1, 0)
    fetched = Job.fetch(job.id, connection=redis_client, serializer=JSONSerializer)
    assert (fetched.get_status(), fetched.retries_left) == (JobStatus.QUEUED, retries)
    assert redis_client.llen(RQ_QUEUE_KEY) == 1


def test_a_renewed_lease_keeps_a_running_job_where_it_is(redis_client, settings, monkeypatch) -> None:
    _enqueue(redis_client, settings)
    worker = _worker(redis_client)
    _start(redis_client, worker)
    leases = JobLeases(redis_client, renew_in_thread=False)
    leases.hold(worker.execution.composite_key, worker.key)
    later = time.time() + LEASE_S * 0.75
    monkeypatch.setattr("worker.recovery.time.time", lambda: later)  # the renewal, LEASE_S * 0.75 s later
    assert leases.renew() == 1
    monkeypatch.undo()
    # Past the lease it started with, not past the renewed one: still running, not handed back.
    assert _handed_back(redis_client, time.time() + LEASE_S + 1) == (0, 0)
    assert redis_client.llen(RQ_QUEUE_KEY) == 0
    leases.release(worker.execution.composite_key)
    assert leases.renew() == 0


def test_lease_renewal_does_not_register_a_job_that_ended(redis_client, settings) -> None:
    _enqueue(redis_client, settings)
    worker = _worker(redis_client)
    _start(redis_client, worker)
    leases = JobLeases(redis_client, renew_in_thread=False)
    leases.hold(worker.execution.composite_key, worker.key)
    redis_client.delete(RQ_STARTED_KEY)  # the job ended meanwhile
    leases.renew()
    assert redis_client.zcard(RQ_STARTED_KEY) == 0


def test_a_job_stuck_on_the_intermediate_list_is_handed_back_after_two_sightings(redis_client, settings) -> None:
    job = _enqueue(redis_client, settings)
    _take(redis_client)  # the worker died before registering it
    now = time.time()
    assert _handed_back(redis_client, now) == (0, 0)  # first sighting
    assert _handed_back(redis_client, now + STUCK_S / 2) == (0, 0)
    assert _handed_back(redis_client, now + STUCK_S) == (0, 1)
    assert redis_client.llen(RQ_INTERMEDIATE_KEY) == 0
    assert redis_client.lrange(RQ_QUEUE_KEY, 0, -1) == [job.id.encode()]
    assert _status(redis_client, job) == JobStatus.QUEUED


def test_a_job_that_left_the_intermediate_list_between_passes_starts_its_wait_again(redis_client, settings) -> None:
    _enqueue(redis_client, settings)
    _take(redis_client)
    now = time.time()
    assert _handed_back(redis_client, now) == (0, 0)
    redis_client.lmove(RQ_INTERMEDIATE_KEY, RQ_QUEUE_KEY)  # registered and done; taken again later
    assert _handed_back(redis_client, now + 1) == (0, 0)
    _take(redis_client)
    assert _handed_back(redis_client, now + STUCK_S) == (0, 0)
    assert redis_client.llen(RQ_INTERMEDIATE_KEY) == 1


def test_a_registered_job_on_the_intermediate_list_waits_for_its_lease(redis_client, settings) -> None:
    _enqueue(redis_client, settings)
    worker = _worker(redis_client)
    job = _take(redis_client)
    worker.prepare_execution(job)  # registered; killed before leaving the intermediate list
    now = time.time()
    assert _handed_back(redis_client, now) == (0, 0)
    assert _handed_back(redis_client, now + STUCK_S) == (0, 0)
    assert _handed_back(redis_client, now + LEASE_S + 1) == (1, 0)
    assert redis_client.llen(RQ_INTERMEDIATE_KEY) == 0
    assert redis_client.llen(RQ_QUEUE_KEY) == 1


def test_a_job_whose_hash_is_gone_is_only_dropped(redis_client, settings) -> None:
    job = _enqueue(redis_client, settings)
    _start(redis_client, _worker(redis_client))
    redis_client.delete(job.key)
    assert _handed_back(redis_client, time.time() + LEASE_S + 1) == (0, 0)
    assert redis_client.llen(RQ_QUEUE_KEY) == 0
    assert redis_client.zcard(RQ_STARTED_KEY) == 0


def test_one_pass_per_interval_across_workers(redis_client, settings) -> None:
    first = Recovery(redis_client, settle_s=0)
    second = Recovery(redis_client, settle_s=0)
    assert first.run() is not None
    assert second.run() is None


def test_no_judgement_before_redis_was_reached_long_enough(redis_client, settings) -> None:
    _enqueue(redis_client, settings)
    _start(redis_client, _worker(redis_client))
    recovery = Recovery(redis_client, clock=lambda: time.time() + LEASE_S + 1)
    assert recovery.run() is None  # just (re)connected: live workers get to renew their leases first
    assert redis_client.zcard(RQ_STARTED_KEY) == 1


@pytest.mark.parametrize(("unrenewed_s", "freed"), [(1, False), (10, True)])
def test_a_dead_schedulers_lock_is_freed(redis_client, unrenewed_s: int, freed: bool) -> None:
    redis_client.set(RQ_SCHEDULER_LOCK_KEY, "dead-scheduler", px=(SCHEDULER_LOCK_TTL_S - unrenewed_s) * 1000)
    result = _pass(redis_client, time.time())
    assert result is not None and result.scheduler_lock_free == freed
    assert bool(redis_client.exists(RQ_SCHEDULER_LOCK_KEY)) != freed


def test_workers_built_like_rqs_pool_read_jobs_as_json(redis_client, settings) -> None:
    """RQ's WorkerPool hands its workers queues built without the JSON serializer; RQ's own
    clean-up of an abandoned job then fails in the failure callback and the worker quits
    midway, its maintenance lock held for 15 minutes."""
    job = _enqueue(redis_client, settings)
    worker = StripayWorker([Queue(QUEUE_NAME, connection=redis_client)], connection=redis_client,
                           serializer=JSONSerializer)
    assert worker.queues[0].serializer is JSONSerializer
    worker.register_birth()
    _start(redis_client, worker)
    redis_client.zadd(RQ_STARTED_KEY, {worker.execution.composite_key: 1})  # long abandoned
    worker.clean_registries()  # RQ's housekeeping leaves the abandoned job to the recovery pass
    assert not redis_client.exists(worker.queues[0].registry_cleaning_key)
    assert _handed_back(redis_client, time.time()) == (1, 0)
    assert _status(redis_client, job) == JobStatus.QUEUED
    assert StartedJobRegistry(QUEUE_NAME, connection=redis_client, serializer=JSONSerializer).get_job_count(
        cleanup=False) == 0


def test_a_new_worker_runs_a_killed_workers_job_with_no_further_traffic(ctx, sim, worker_settings) -> None:
    """Real processes: the whole worker (pool, worker and scheduler) SIGKILLed mid-job, a new one
    started, nothing else enqueued; the job runs to the end without a test-side clean-up."""
    from tests.worker.test_faults import WAIT_S, notification_for, wait_running, wait_until

    payload = notification_for(sim)
    sim.set_fault("/v1/order", latency_s=1.5)
    job_id = NotificationEnqueuer(ctx.redis, ctx.settings).enqueue(payload, time.time()).job_id
    retries = Job.fetch(job_id, connection=ctx.redis, serializer=JSONSerializer).retries_left
    first = spawn_worker(worker_settings)
    try:
        wait_running(ctx.redis, job_id)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    sim.clear_faults()
    second = spawn_worker(worker_settings)
    try:
        store = OrderStore(ctx.redis)
        wait_until(lambda: store.get(payload["id"]) is not None, timeout_s=WAIT_S)
        wait_until(lambda: Job.fetch(job_id, connection=ctx.redis, serializer=JSONSerializer).get_status()
                   == JobStatus.FINISHED, timeout_s=WAIT_S)
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(timeout=WAIT_S)
    assert store.get(payload["id"]).status == "completed"
    assert Job.fetch(job_id, connection=ctx.redis, serializer=JSONSerializer).retries_left == retries


def test_a_job_outliving_its_first_lease_on_a_live_worker_is_not_started_again(ctx, sim, worker_settings) -> None:
    """Real process: a job waiting on the API longer than a lease, past the moment the worker's
    recovery pass judges leases; its lease is renewed, so it is neither handed back nor run twice."""
    from dataclasses import replace

    from tests.worker.test_faults import WAIT_S, notification_for, wait_running, wait_until

    settings = replace(worker_settings, api_timeout_s=30.0)
    payload = notification_for(sim)
    sim.set_fault("/v1/order", latency_s=LEASE_S + 12)
    job_id = NotificationEnqueuer(ctx.redis, ctx.settings).enqueue(payload, time.time()).job_id
    worker = spawn_worker(settings, "--threads", "2")
    try:
        wait_running(ctx.redis, job_id)
        started_at = time.monotonic()
        # Past the first lease and the worker's wait before judging leases, the other thread idle.
        wait_until(lambda: time.monotonic() - started_at > LEASE_S + 4, timeout_s=WAIT_S)
        (entry, until), = ctx.redis.zrange(RQ_STARTED_KEY, 0, -1, withscores=True)
        assert entry.decode().startswith(job_id + ":") and until > time.time()
        assert ctx.redis.llen(RQ_QUEUE_KEY) == 0
        assert _status(ctx.redis, Job(job_id, connection=ctx.redis)) == JobStatus.STARTED
        wait_until(lambda: _status(ctx.redis, Job(job_id, connection=ctx.redis)) == JobStatus.FINISHED,
                   timeout_s=WAIT_S)
    finally:
        sim.clear_faults()
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=WAIT_S)
    assert OrderStore(ctx.redis).get(payload["id"]).history[-1]["to"] == "completed"
