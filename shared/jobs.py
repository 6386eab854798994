"""The service's RQ jobs: their kinds, RQ's key layout, the retry policy and every way one is queued.

Every job is an RQ ``Job`` of queue ``stripay`` as ``Queue.enqueue`` would save
it (JSON serializer, explicit timeout and TTLs, the retry policy, the failure
callback), built by :func:`build_job`; a stock RQ worker runs each (a test
holds every kind equal to what RQ itself writes). The ways into the queue:

- a notification: ``enqueue_notification.lua`` remembers it and writes its job
  in one step, with KEYS and ARGV from :class:`NotificationJobs`;
- a direct job (an operator's reconcile, the sweep's, okPage's): :func:`enqueue`
  (:func:`enqueue_reconcile_async` from asyncio code);
- a transition's delivery job: written by ``apply_order.lua`` with the
  transition, fields from :func:`delivery_job_fields`;
- rechecks and scheduled sweeps: :func:`schedule` (RQ's unique scheduling);
- replays of failed jobs: :func:`requeue_failed` (RQ's requeue, fresh retry budget).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from importlib import resources
from typing import Any

import redis
import redis.asyncio
from redis.connection import Encoder
from rq import Queue
from rq.exceptions import DuplicateJobError
from rq.job import Callback, Job, JobStatus, Retry
from rq.executions import ExecutionRegistry
from rq.intermediate_queue import IntermediateQueue
from rq.registry import FailedJobRegistry, StartedJobRegistry
from rq.scheduler import RQScheduler
from rq.serializers import JSONSerializer
from rq.utils import now

from shared.keys import seen_key
from shared.notification import identity_of
from shared.settings import Settings

QUEUE_NAME = "stripay"
RECONCILE_JOB = "worker.jobs.reconcile_notification"
DELIVER_JOB = "worker.jobs.deliver_transition"
SWEEP_JOB = "worker.jobs.sweep_orders"
FAILURE_CALLBACK = "worker.jobs.on_job_failure"
# The only functions a worker imports and calls for a job (anything else is refused).
JOB_FUNCTIONS = frozenset({RECONCILE_JOB, DELIVER_JOB, SWEEP_JOB})
JOB_CALLBACKS = frozenset({FAILURE_CALLBACK})
SWEEP_TIMEOUT_S = 1800  # a sweep pages through every order: longer than a reconcile
REPLAYS_META = "replays"  # in a job's meta: how often an operator replayed it

# RQ's key layout, from RQ's own classes.
RQ_QUEUE_KEY = Queue.redis_queue_namespace_prefix + QUEUE_NAME  # list of queued job ids
RQ_QUEUES_SET = Queue.redis_queues_keys  # set of every queue's key
RQ_JOB_PREFIX = Job.redis_job_namespace_prefix  # + job id: the job hash
# What the worker's recovery pass (worker/recover_jobs.lua) reads and writes:
RQ_INTERMEDIATE_KEY = IntermediateQueue.get_intermediate_queue_key(RQ_QUEUE_KEY)  # taken off the queue, not registered
RQ_STARTED_KEY = StartedJobRegistry.key_template.format(QUEUE_NAME)  # job_id:execution_id -> lease end
RQ_EXECUTION_PREFIX = "rq:execution:"  # + job_id:execution_id (rq.executions.Execution.key)
RQ_EXECUTIONS_PREFIX = ExecutionRegistry.key_template.format("")  # + job id: the job's executions
RQ_SCHEDULER_LOCK_KEY = RQScheduler.get_locking_key(QUEUE_NAME)

ENQUEUE_NOTIFICATION_SCRIPT = resources.files("shared").joinpath("enqueue_notification.lua").read_text("utf-8")

# Job objects only need a connection object to exist; this one never connects.
_UNUSED_CONNECTION = redis.Redis()


def rq_queue(connection: redis.Redis) -> Queue:
    return Queue(QUEUE_NAME, connection=connection, serializer=JSONSerializer)


def failed_registry(connection: redis.Redis) -> FailedJobRegistry:
    return FailedJobRegistry(QUEUE_NAME, connection=connection, serializer=JSONSerializer)


def retry_policy(settings: Settings) -> Retry | None:
    """RQ's retry for API errors: one retry per ``STRIPAY_RETRY_S`` entry, in order
    (RQ right-aligns the intervals to the retries left, so the counts must match)."""
    if not settings.retry_s:
        return None
    return Retry(max=len(settings.retry_s), interval=[int(s) for s in settings.retry_s])


def build_job(
    func: str,
    args: tuple[Any, ...],
    settings: Settings,
    description: str,
    job_id: str | None = None,
    kwargs: dict[str, Any] | None = None,
    timeout_s: int | None = None,
    queued: bool = True,
) -> Job:
    """A job of queue ``stripay`` as ``Queue.enqueue`` would save it (``queued``), or as
    ``Queue.enqueue_at`` creates it before scheduling (not ``queued``)."""
    job = Job.create(
        func,
        args=args,
        kwargs=kwargs,
        connection=_UNUSED_CONNECTION,
        id=job_id or uuid.uuid4().hex,
        origin=QUEUE_NAME,
        timeout=timeout_s or settings.job_timeout_s,
        result_ttl=settings.result_ttl_s,
        failure_ttl=settings.failure_ttl_s,
        retry=retry_policy(settings),
        serializer=JSONSerializer,
        description=description,
        on_failure=Callback(FAILURE_CALLBACK),
        status=JobStatus.QUEUED if queued else JobStatus.SCHEDULED,
    )
    if queued:
        job.enqueued_at = now()
    return job


def hset_fields(job: Job) -> list[Any]:
    """The job hash as a flat field/value list for HSET."""
    fields: list[Any] = []
    for name, value in job.to_dict().items():
        fields.extend((name, value))
    return fields


# --- the kinds of job -------------------------------------------------------------------------


def reconcile_job(payload: Mapping[str, Any], received_at: float, settings: Settings, source: str = "notify",
                  job_id: str | None = None) -> Job:
    """Fetch the order of ``payload`` (a notification, or at least ``{"id": ...}``) and apply it;
    ``source`` is what the history records (notify, poll, sweep, return)."""
    return build_job(RECONCILE_JOB, (dict(payload), received_at, source), settings,
                     description=f"reconcile order {payload.get('id')} ({source})", job_id=job_id)


def recheck_job(payload: Mapping[str, Any], received_at: float, settings: Settings, attempt: int) -> Job:
    """Recheck ``attempt`` of a notification the API was behind on; its id is derived from
    the notification, so scheduling it twice schedules it once."""
    root = hashlib.sha1(identity_of(payload).encode()).hexdigest()[:20]
    return build_job(RECONCILE_JOB, (dict(payload), received_at, "poll"), settings,
                     description=f"recheck order {payload.get('id')} ({attempt})",
                     job_id=f"recheck-{root}-{attempt}", kwargs={"recheck_attempt": attempt}, queued=False)


def swept_order_job_id(order_id: int, updated_ms: int, merchant_id: str | None = None) -> str:
    """The id of the reconcile job a sweep queues for a merchant's order's version."""
    return f"sweep-{merchant_id or ''}-{order_id}-{updated_ms}"


def scheduled_sweep_job_id(every_s: int, period: int) -> str:
    """The id of the scheduled sweep of ``period`` (periods of ``every_s`` seconds)."""
    return f"sweep-{every_s}-{period}"


def sweep_job(settings: Settings, every_s: int, period: int, lookback_s: int) -> Job:
    return build_job(SWEEP_JOB, (lookback_s,), settings,
                     description=f"sweep orders (every {every_s}s, period {period})",
                     job_id=scheduled_sweep_job_id(every_s, period), kwargs={"every_s": every_s, "period": period},
                     timeout_s=max(settings.job_timeout_s, SWEEP_TIMEOUT_S), queued=False)


def delivery_job_fields(settings: Settings, order_id: int, event_id: str) -> tuple[str, str, list[Any]]:
    """(job key, job id, HSET fields) of the job delivering transition ``event_id``,
    for ``apply_order.lua`` to write with the transition."""
    job = build_job(DELIVER_JOB, (order_id, event_id), settings, description=f"deliver {event_id}",
                    job_id=f"deliver-{event_id}")
    return job.key, job.id, hset_fields(job)


# --- every way into the queue -----------------------------------------------------------------


def enqueue(client: redis.Redis, job: Job, unique: bool = False) -> bool:
    """Write ``job`` and queue it in one ``MULTI``/``EXEC``, so a worker never sees a queued
    id without its job. With ``unique`` the job id is ``WATCH``ed and nothing is written
    (False) when a job of that id exists (queued, running, finished or failed)."""
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


def enqueue_reconcile(client: redis.Redis, settings: Settings, payload: dict[str, Any], source: str,
                      job_id: str | None = None, unique: bool = False, received_at: float | None = None) -> str | None:
    """Queue :func:`reconcile_job` for ``payload``; its id, or None when ``unique`` and it exists."""
    job = reconcile_job(payload, time.time() if received_at is None else received_at, settings, source, job_id)
    return job.id if enqueue(client, job, unique=unique) else None


async def enqueue_reconcile_async(client: redis.asyncio.Redis, settings: Settings, payload: dict[str, Any],
                                  source: str, received_at: float | None = None) -> str:
    """:func:`enqueue_reconcile` (never unique) for asyncio code: the same job, hash, push
    and queue registration in one ``MULTI``/``EXEC``. Returns the job id."""
    job = reconcile_job(payload, time.time() if received_at is None else received_at, settings, source)
    async with client.pipeline(transaction=True) as pipe:
        pipe.hset(job.key, items=hset_fields(job))
        pipe.rpush(RQ_QUEUE_KEY, job.id)
        pipe.sadd(RQ_QUEUES_SET, RQ_QUEUE_KEY)
        await pipe.execute()
    return job.id


def schedule(connection: redis.Redis, job: Job, at: datetime) -> bool:
    """Schedule ``job`` for ``at`` with RQ's atomic unique scheduling; False when a job
    of that id exists already."""
    try:
        rq_queue(connection).schedule_job(job, at, unique=True)
    except DuplicateJobError:
        return False
    return True


def requeue_failed(connection: redis.Redis, job: Job, settings: Settings) -> None:
    """Put a failed job back on its queue with the retry budget of ``settings``, counting the
    replay in its meta (RQ's requeue; raises ``InvalidJobOperation`` when it is no longer failed)."""
    policy = retry_policy(settings)
    job.retries_left = policy.max if policy else 0
    job.retry_intervals = policy.intervals if policy else None
    job.meta[REPLAYS_META] = int(job.meta.get(REPLAYS_META, 0)) + 1
    failed_registry(connection).requeue(job)


# --- the notification's job, as the enqueue script writes it ----------------------------------


class UtcClock:
    """The time now as RQ writes it (``utcformat(now())``), at a tenth of the cost: the
    formatted second is reused until the clock passes it."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def now(self) -> str:
        second, nanoseconds = divmod(time.time_ns(), 1_000_000_000)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._prefix}.{nanoseconds // 1000:06d}Z"


# Fields of a job hash that differ between notifications; the rest come from a template.
PER_EVENT_FIELDS = ("data", "created_at", "enqueued_at", "description")


class NotificationJobs:
    """KEYS and ARGV of ``enqueue_notification.lua`` for notifications under one ``Settings``.

    The job hash is what RQ's ``Job.to_dict()`` writes for :func:`reconcile_job`
    (a test holds them equal), built from a template made once: creating an
    RQ ``Job`` per notification cost a fifth of the receiver's CPU. The
    template's fields travel as one JSON argument, because redis-py spends
    more on packing 40 small arguments than on one long one.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        template = reconcile_job({"id": 0}, 0.0, settings, job_id="template").to_dict()
        encoder = Encoder(encoding="utf-8", encoding_errors="strict", decode_responses=False)
        constant_fields: list[str] = []
        for name, value in template.items():
            if name not in PER_EVENT_FIELDS:
                # The string redis-py would send for the value, as HSET from Python stores it.
                constant_fields.extend((name, encoder.encode(value).decode()))
        self._constant_json = json.dumps(constant_fields, separators=(",", ":")).encode()
        self._clock = UtcClock()

    def script_call(self, payload: Mapping[str, Any], received_at: float) -> tuple[list[str], list[Any]]:
        job_id = os.urandom(16).hex()  # as uuid4().hex, a fifth of the cost
        call = (RECONCILE_JOB, None, (dict(payload), received_at, "notify"), {})
        keys = [seen_key(identity_of(payload)), Job.key_for(job_id), RQ_QUEUE_KEY, RQ_QUEUES_SET]
        args = [
            self._settings.dedupe_ttl_s,
            job_id,
            self._constant_json,
            # "data" uncompressed: RQ reads it as it is when it is not zlib's (Job.restore), and
            # zlib.compress cost a twentieth of the receiver's CPU. RQ compresses it on its next save.
            JSONSerializer.dumps(call),
            self._clock.now(),  # created_at and enqueued_at
            f"reconcile order {payload.get('id')} (notify)",
        ]
        return keys, args
