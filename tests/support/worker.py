"""Run RQ workers in-process for tests, with the scheduler's due jobs moved in."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from rq import Queue
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from rq.job import Job
from rq.utils import current_timestamp
from rq.serializers import JSONSerializer

from shared.jobs import QUEUE_NAME
from shared.settings import Settings
from worker.context import WorkerContext, use_context
from worker.pool import StripayWorker


def rq_queue(client: redis.Redis) -> Queue:
    return Queue(QUEUE_NAME, connection=client, serializer=JSONSerializer)


def run_jobs(client: redis.Redis, max_rounds: int = 20, max_jobs: int | None = None) -> None:
    """Run queued jobs, then jobs that came due on the schedule, until none are left.

    Schedules in tests are compressed to 0 s, so every scheduled job is due.
    """
    queue = rq_queue(client)
    for _ in range(max_rounds):
        move_due_jobs(client)
        if queue.count == 0:
            return
        StripayWorker([queue], connection=client, serializer=JSONSerializer).work(
            burst=True, max_jobs=max_jobs, with_scheduler=False, logging_level="WARNING"
        )
        if max_jobs is not None:
            return
    raise AssertionError("jobs kept coming after max_rounds")


def move_due_jobs(client: redis.Redis) -> int:
    """What RQ's scheduler does each tick: enqueue scheduled jobs that are due."""
    queue = rq_queue(client)
    registry = ScheduledJobRegistry(QUEUE_NAME, connection=client, serializer=JSONSerializer)
    job_ids = registry.get_jobs_to_schedule(current_timestamp() + 1)
    for job in Job.fetch_many(job_ids, connection=client, serializer=JSONSerializer):
        if job is not None:
            queue._enqueue_job(job)
    for job_id in job_ids:
        registry.remove(job_id)
    return len(job_ids)


def scheduled_ids(client: redis.Redis) -> list[str]:
    return list(ScheduledJobRegistry(QUEUE_NAME, connection=client, serializer=JSONSerializer).get_job_ids())


def failed_ids(client: redis.Redis) -> list[str]:
    return list(FailedJobRegistry(QUEUE_NAME, connection=client, serializer=JSONSerializer).get_job_ids())


@contextmanager
def worker_context(settings: Settings) -> Iterator[WorkerContext]:
    context = WorkerContext.create(settings)
    use_context(context)
    try:
        yield context
    finally:
        use_context(None)
        context.close()


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment of a `stripay-hooks worker` process configured like ``settings``."""
    env = dict(os.environ)
    env.update({
        "REDIS_URL": settings.redis_url or "",
        "STRIPAY_API_URL": settings.api_url,
        "STRIPAY_MERCHANT_KEY": ",".join(settings.merchant_keys),
        "STRIPAY_RETRY_S": ",".join(str(s) for s in settings.retry_s),
        "STRIPAY_RECHECK_S": ",".join(str(s) for s in settings.recheck_s),
        "STRIPAY_API_TIMEOUT_S": str(settings.api_timeout_s),
    })
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


def spawn_worker(settings: Settings, *args: str) -> subprocess.Popen[bytes]:
    """A real `stripay-hooks worker` process (metrics off unless asked)."""
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "worker", "--metrics-port", "0", *args],
        env=worker_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
