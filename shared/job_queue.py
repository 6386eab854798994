"""Enqueue an RQ job directly, without the notification dedupe of :mod:`shared.event_queue`.

For jobs an operator or the sweep asks for (reconcile an order now): the job
hash, the push on queue ``stripay`` and the queue registration are written in
one ``MULTI``/``EXEC``, so a worker never sees a queued id without its job.
With ``unique=True`` the job id is ``WATCH``ed and nothing is written when a
job of that id already exists (queued, running, finished or failed).
"""

from __future__ import annotations

import time
from typing import Any

import redis
import redis.asyncio
from rq.job import Job

from shared.event_queue import build_job, hset_fields
from shared.keys import RQ_QUEUE_KEY, RQ_QUEUES_SET
from shared.settings import Settings


def enqueue_job(client: redis.Redis, job: Job, unique: bool = False) -> bool:
    """Write ``job`` (built by :func:`shared.event_queue.build_rq_job`) and queue it.

    Returns False, writing nothing, when ``unique`` and a job with that id exists.
    """
    fields = hset_fields(job)

    def write(pipe: redis.client.Pipeline) -> bool:
        if unique and pipe.exists(job.key):
            return False
        pipe.multi()
        pipe.hset(job.key, items=fields)
        pipe.rpush(RQ_QUEUE_KEY, job.id)
        pipe.sadd(RQ_QUEUES_SET, RQ_QUEUE_KEY)
        return True

    if unique:
        return bool(client.transaction(write, job.key, value_from_callable=True))
    with client.pipeline(transaction=True) as pipe:
        write(pipe)
        pipe.execute()
    return True


def enqueue_reconcile(
    client: redis.Redis,
    settings: Settings,
    payload: dict[str, Any],
    source: str,
    job_id: str | None = None,
    unique: bool = False,
    received_at: float | None = None,
) -> str | None:
    """Queue the reconcile job for ``payload`` (at least ``{"id": order_id}``) with ``source``.

    Returns the job id, or None when ``unique`` and that job already exists.
    """
    job = build_job(payload, time.time() if received_at is None else received_at, settings, source=source,
                    job_id=job_id)
    return job.id if enqueue_job(client, job, unique=unique) else None


async def enqueue_reconcile_async(
    client: redis.asyncio.Redis,
    settings: Settings,
    payload: dict[str, Any],
    source: str,
    received_at: float | None = None,
) -> str:
    """:func:`enqueue_reconcile` (never unique) for asyncio code: the same job, hash, push
    and queue registration in one ``MULTI``/``EXEC``. Returns the job id."""
    job = build_job(payload, time.time() if received_at is None else received_at, settings, source=source)
    async with client.pipeline(transaction=True) as pipe:
        pipe.hset(job.key, items=hset_fields(job))
        pipe.rpush(RQ_QUEUE_KEY, job.id)
        pipe.sadd(RQ_QUEUES_SET, RQ_QUEUE_KEY)
        await pipe.execute()
    return job.id
