"""Every job this service writes is the job RQ itself writes for that kind, and a stock RQ worker runs it."""

import zlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import pytest
import redis
from rq import Queue, SimpleWorker
from rq.job import Callback, Job, JobStatus
from rq.registry import ScheduledJobRegistry
from rq.serializers import JSONSerializer
from rq.utils import now, utcformat

from shared.jobs import (
    DELIVER_JOB,
    FAILURE_CALLBACK,
    QUEUE_NAME,
    RECONCILE_JOB,
    SWEEP_JOB,
    SWEEP_TIMEOUT_S,
    UtcClock,
    enqueue_reconcile,
    failed_registry,
    reconcile_job,
    requeue_failed,
    retry_policy,
)
from shared.notification_enqueuer import NotificationEnqueuer
from shared.order import Order
from shared.order_apply import apply_verified
from shared.order_store import event_id_for
from shared.settings import Settings
from tests.support import handlers
from tests.support.payloads import order_payload, signed
from tests.support.simulator import SimulatorThread
from tests.support.worker import run_jobs, worker_context
from worker.reconcile import _schedule_recheck
from worker.sweep_schedule import lookback_s, schedule_sweeps

# Fields that differ between two writes of the same job: when it was written, and what a
# past run left behind (a replayed job has run before; RQ's requeue leaves these as they were).
WRITTEN_AT = ("created_at", "enqueued_at")
LEFT_BY_A_RUN = ("last_heartbeat", "worker_name", "started_at", "ended_at", "number_of_retries", "exc_info")
SWEEP_EVERY_S = 3600


def test_job_carries_explicit_ttls_timeout_and_retry_schedule(settings) -> None:
    job = reconcile_job(order_payload(), 0.0, settings)
    assert (job.result_ttl, job.failure_ttl, job.timeout) == (
        settings.result_ttl_s, settings.failure_ttl_s, settings.job_timeout_s)
    assert job.retries_left == len(settings.retry_s)
    assert job.retry_intervals == [int(s) for s in settings.retry_s]


def test_utc_clock_writes_rqs_own_format() -> None:
    before = utcformat(now())
    written = UtcClock().now()
    after = utcformat(now())
    assert len(written) == len(before) and before <= written <= after


def normalised(client: redis.Redis, job_id: str, left_by_a_run: bool = False) -> dict[str, Any]:
    """The job hash with its function call decoded (RQ compresses "data", the enqueue script
    does not), the times of the write reduced to whether they are set and, for a job that
    ran before, without what that run left."""
    fields = {name.decode(): value for name, value in client.hgetall(Job.key_for(job_id)).items()}
    assert fields, f"job {job_id} was not written"
    data = fields.pop("data")
    try:
        data = zlib.decompress(data)
    except zlib.error:
        pass
    fields["data"] = JSONSerializer.loads(data)
    for name in WRITTEN_AT:
        if name in fields:
            fields[name] = bool(fields[name])
    for name in LEFT_BY_A_RUN if left_by_a_run else ():
        fields.pop(name, None)
    return fields


def where(client: redis.Redis, job_id: str) -> str:
    if job_id.encode() in client.lrange(f"rq:queue:{QUEUE_NAME}", 0, -1):
        return "queued"
    if ScheduledJobRegistry(QUEUE_NAME, connection=client, serializer=JSONSerializer).get_scheduled_time(job_id):
        return "scheduled"
    return "nowhere"


class RqReference:
    """RQ's own writes of the same jobs, in a Redis database of their own."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.client = redis.Redis.from_url(url.rsplit("/", 1)[0] + "/1")  # the URL's database wins over db=
        assert self.client.connection_pool.connection_kwargs["db"] == 1
        self.client.flushdb()
        self.queue = Queue(QUEUE_NAME, connection=self.client, serializer=JSONSerializer)
        self.settings = settings

    def options(self, job_id: str, description: str, timeout_s: int | None = None) -> dict[str, Any]:
        return {"job_id": job_id, "description": description, "job_timeout": timeout_s or self.settings.job_timeout_s,
                "result_ttl": self.settings.result_ttl_s, "failure_ttl": self.settings.failure_ttl_s,
                "retry": retry_policy(self.settings), "on_failure": Callback(FAILURE_CALLBACK)}

    def enqueue(self, func: str, args: tuple[Any, ...], job_id: str, description: str,
                meta: dict[str, Any] | None = None) -> str:
        self.queue.enqueue(func, args=args, meta=meta, **self.options(job_id, description))
        return job_id

    def enqueue_at(self, at: datetime, func: str, args: tuple[Any, ...], kwargs: dict[str, Any], job_id: str,
                   description: str, timeout_s: int | None = None) -> str:
        self.queue.enqueue_at(at, func, args=args, kwargs=kwargs, **self.options(job_id, description, timeout_s))
        return job_id


@pytest.fixture
def rq_reference(redis_url: str, worker_settings: Settings) -> Iterator[RqReference]:
    reference = RqReference(redis_url, worker_settings)
    yield reference
    reference.client.flushdb()
    reference.client.close()


def completed_notification(sim: SimulatorThread) -> dict[str, Any]:
    order = sim.set_status(sim.create_order(notifyUrl=None)["id"], "completed")
    return signed({k: v for k, v in order.items() if k != "sign"})


def test_every_hand_written_job_is_rqs_own_and_runs_on_a_stock_worker(
    redis_client: redis.Redis, worker_settings: Settings, sim: SimulatorThread, rq_reference: RqReference,
) -> None:
    settings = replace(worker_settings, handler="tests.support.handlers:record", sweep_every_s=SWEEP_EVERY_S)
    handlers.received.clear()
    handlers.failures_left = 0
    ours: dict[str, str] = {}  # kind: job id in our database
    theirs: dict[str, str] = {}  # kind: job id of RQ's own write in the reference database
    with worker_context(settings) as ctx:
        # A failed job to replay: Stripay's API refused it, so it went straight to the failed jobs.
        refused = completed_notification(sim)
        sim.set_fault(endpoint="/v1/order", status=400)
        failed_id = NotificationEnqueuer(redis_client, settings).enqueue(refused, 3.0).job_id
        run_jobs(redis_client)
        sim.clear_faults()
        assert failed_registry(redis_client).get_job_ids() == [failed_id]

        # 1. A notification through the receiver's enqueue script.
        notified = completed_notification(sim)
        ours["notification"] = NotificationEnqueuer(redis_client, settings).enqueue(notified, 1.0).job_id
        theirs["notification"] = rq_reference.enqueue(RECONCILE_JOB, (notified, 1.0, "notify"), ours["notification"],
                                                      f"reconcile order {notified['id']} (notify)")

        # 2. A direct enqueue (an operator's reconcile).
        polled = sim.set_status(sim.create_order(notifyUrl=None)["id"], "completed")
        ours["direct"] = enqueue_reconcile(redis_client, settings, {"id": polled["id"]}, "poll", received_at=2.0)
        theirs["direct"] = rq_reference.enqueue(RECONCILE_JOB, ({"id": polled["id"]}, 2.0, "poll"), ours["direct"],
                                                f"reconcile order {polled['id']} (poll)")

        # 3. The delivery job the apply script writes with a transition.
        delivered = sim.set_status(sim.create_order(notifyUrl=None)["id"], "completed")
        order = Order.from_api(sim.order(delivered["id"]))
        assert apply_verified(ctx.store, settings, order, "poll", 0.0).outcome == "applied"
        event_id = event_id_for(order)
        ours["delivery"] = f"deliver-{event_id}"
        theirs["delivery"] = rq_reference.enqueue(DELIVER_JOB, (order.id, event_id), ours["delivery"],
                                                  f"deliver {event_id}")

        # 4. A recheck, scheduled.
        rechecked = completed_notification(sim)
        _schedule_recheck(ctx, rechecked, 4.0, 0)
        [ours["recheck"]] = [i for i in _scheduled(redis_client) if i.startswith("recheck-")]
        recheck_at = _scheduled_at(redis_client, ours["recheck"])
        theirs["recheck"] = rq_reference.enqueue_at(recheck_at, RECONCILE_JOB, (rechecked, 4.0, "poll"),
                                                    {"recheck_attempt": 1}, ours["recheck"],
                                                    f"recheck order {rechecked['id']} (1)")

        # 5. A scheduled sweep (of a period already begun, so it is due now).
        ours["sweep"] = schedule_sweeps(redis_client, settings, now_s=0.0) or ""
        sweep_at = datetime.fromtimestamp(SWEEP_EVERY_S, tz=timezone.utc)
        theirs["sweep"] = rq_reference.enqueue_at(
            sweep_at, SWEEP_JOB, (lookback_s(SWEEP_EVERY_S),), {"every_s": SWEEP_EVERY_S, "period": 1}, ours["sweep"],
            f"sweep orders (every {SWEEP_EVERY_S}s, period 1)", timeout_s=max(settings.job_timeout_s, SWEEP_TIMEOUT_S))

        # 6. The replay of the failed job: RQ's requeue with a fresh retry budget.
        requeue_failed(redis_client, Job.fetch(failed_id, connection=redis_client, serializer=JSONSerializer),
                       settings)
        ours["replay"] = failed_id
        theirs["replay"] = rq_reference.enqueue(RECONCILE_JOB, (refused, 3.0, "notify"), failed_id,
                                                f"reconcile order {refused['id']} (notify)", meta={"replays": 1})

        for kind, job_id in ours.items():
            replayed = kind == "replay"
            assert normalised(redis_client, job_id, replayed) == normalised(rq_reference.client, theirs[kind],
                                                                            replayed), kind
            assert where(redis_client, job_id) == where(rq_reference.client, theirs[kind]), kind
        assert _scheduled_at(redis_client, ours["sweep"]) == sweep_at

        SimpleWorker([QUEUE_NAME], connection=redis_client, serializer=JSONSerializer).work(
            burst=True, with_scheduler=True, logging_level="WARNING")
        statuses = {kind: Job.fetch(job_id, connection=redis_client, serializer=JSONSerializer).get_status()
                    for kind, job_id in ours.items()}
    assert statuses == dict.fromkeys(ours, JobStatus.FINISHED)
    assert order.id in [event["order_id"] for event in handlers.received]


def _scheduled(client: redis.Redis) -> list[str]:
    return list(ScheduledJobRegistry(QUEUE_NAME, connection=client, serializer=JSONSerializer).get_job_ids())


def _scheduled_at(client: redis.Redis, job_id: str) -> datetime:
    return ScheduledJobRegistry(QUEUE_NAME, connection=client, serializer=JSONSerializer).get_scheduled_time(job_id)

