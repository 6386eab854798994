"""Remember a notification and enqueue its RQ job in one server-side step.

One ``EVALSHA`` per notification (``enqueue_notification.lua``): if the
notification's identity is already remembered the script answers "duplicate" and writes nothing; otherwise it
writes the RQ job hash, pushes the job id on the ``stripay`` queue and only
then remembers the identity (for ``dedupe_ttl_s``). Redis runs a script to
completion without interleaving other commands, so 50 identical deliveries
at once produce exactly one job. Should a write fail inside the script, the
identity write that comes last has not happened, so Stripay's next retry
enqueues again: at worst an extra job, which the worker's per-order state
makes harmless, never a lost one.

The job is built with RQ's own ``Job`` serialization (JSON serializer), so a
stock RQ worker runs it.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import redis
from redis.connection import Encoder
from rq.job import Callback, Job, JobStatus, Retry
from rq.serializers import JSONSerializer
from rq.utils import now

from shared.keys import FAILURE_CALLBACK, QUEUE_NAME, RECONCILE_JOB, RQ_QUEUE_KEY, RQ_QUEUES_SET, seen_key
from shared.notification import identity_of
from shared.redis_client import CONNECT_TIMEOUT_S, SOCKET_TIMEOUT_S
from shared.script_pipe import PipelinedScript
from shared.settings import Settings

ENQUEUE_SCRIPT = resources.files("shared").joinpath("enqueue_notification.lua").read_text(encoding="utf-8")

# Job objects only need a connection object to exist; this one never connects.
_UNUSED_CONNECTION = redis.Redis()


@dataclass(frozen=True)
class EnqueueResult:
    accepted: bool  # False: a duplicate of a remembered notification
    job_id: str


def retry_policy(settings: Settings) -> Retry | None:
    """RQ's retry for API errors: one retry per ``STRIPAY_RETRY_S`` entry, in order
    (RQ right-aligns the intervals to the retries left, so the counts must match)."""
    if not settings.retry_s:
        return None
    return Retry(max=len(settings.retry_s), interval=[int(s) for s in settings.retry_s])


def build_rq_job(
    func: str,
    args: tuple[Any, ...],
    settings: Settings,
    description: str,
    job_id: str | None = None,
    kwargs: dict[str, Any] | None = None,
) -> Job:
    """An RQ job for queue ``stripay``, exactly as ``Queue.enqueue`` would save it:
    JSON serializer, explicit timeout and TTLs, retries on ``settings.retry_s``."""
    job = Job.create(
        func,
        args=args,
        kwargs=kwargs,
        connection=_UNUSED_CONNECTION,
        id=job_id or uuid.uuid4().hex,
        origin=QUEUE_NAME,
        timeout=settings.job_timeout_s,
        result_ttl=settings.result_ttl_s,
        failure_ttl=settings.failure_ttl_s,
        retry=retry_policy(settings),
        serializer=JSONSerializer,
        description=description,
        on_failure=Callback(FAILURE_CALLBACK),
    )
    job.enqueued_at = now()
    job._status = JobStatus.QUEUED
    return job


def hset_fields(job: Job) -> list[Any]:
    """The job hash as a flat field/value list for HSET."""
    fields: list[Any] = []
    for name, value in job.to_dict().items():
        fields.extend((name, value))
    return fields


def build_job(
    payload: Mapping[str, Any],
    received_at: float,
    settings: Settings,
    source: str = "notify",
    job_id: str | None = None,
) -> Job:
    """The reconcile job for one notification."""
    return build_rq_job(
        RECONCILE_JOB,
        (dict(payload), received_at, source),
        settings,
        description=f"reconcile order {payload.get('id')} ({source})",
        job_id=job_id,
    )


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
    """KEYS and ARGV of :data:`ENQUEUE_SCRIPT` for notifications under one ``Settings``.

    The job hash is what RQ's ``Job.to_dict()`` writes for :func:`build_job`
    (a test holds them equal), built from a template made once: creating an
    RQ ``Job`` per notification cost a fifth of the receiver's CPU. The
    template's fields travel as one JSON argument, because redis-py spends
    more on packing 40 small arguments than on one long one.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        template = build_job({"id": 0}, 0.0, settings, job_id="template").to_dict()
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


def _result(reply: list[Any]) -> EnqueueResult:
    job_id = reply[1].decode() if isinstance(reply[1], bytes) else str(reply[1])
    return EnqueueResult(accepted=int(reply[0]) == 1, job_id=job_id)


class AsyncEventQueue:
    """Enqueue from the aiohttp receiver: one script call per notification, the calls
    of concurrent requests sent to Redis together on a connection of its own
    (:mod:`shared.script_pipe`)."""

    def __init__(self, settings: Settings) -> None:
        if settings.redis_url is None:
            raise ValueError("REDIS_URL is required to enqueue notifications")
        self._script = PipelinedScript(settings.redis_url, ENQUEUE_SCRIPT, SOCKET_TIMEOUT_S, CONNECT_TIMEOUT_S)
        self._jobs = NotificationJobs(settings)

    async def close(self) -> None:
        await self._script.close()

    async def enqueue(self, payload: Mapping[str, Any], received_at: float) -> EnqueueResult:
        keys, args = self._jobs.script_call(payload, received_at)
        return _result(await self._script(keys, args))


class EventQueue:
    """The same enqueue, blocking, for the CLI and tools."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self._script = client.register_script(ENQUEUE_SCRIPT)
        self._jobs = NotificationJobs(settings)

    def enqueue(self, payload: Mapping[str, Any], received_at: float) -> EnqueueResult:
        keys, args = self._jobs.script_call(payload, received_at)
        return _result(self._script(keys=keys, args=args))
