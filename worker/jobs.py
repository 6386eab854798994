"""RQ job entry points, referenced by dotted path from jobs written to Redis."""

from __future__ import annotations

from typing import Any

import redis
from rq import get_current_job
from rq.job import Job

from shared import metrics
from shared.jobs import REPLAYS_META
from shared.logging import get_logger
from shared.notification import MalformedNotification
from shared.stripay_client import ApiRejected
from worker.context import get_context
from worker.delivery import deliver
from worker.reconcile import UNKNOWN_ORDER, ReconcileFailed, reconcile

log = get_logger("worker.jobs")

NOT_RETRYABLE = (ApiRejected, ReconcileFailed, MalformedNotification)
# Jobs queued before sources were named as the history records them (they may wait
# among the failed jobs for a replay): their source as it is named now.
EARLIER_SOURCE_NAMES = {"recheck": "poll", "reconcile": "poll", "replay": "notify"}


def reconcile_notification(
    payload: dict[str, Any], received_at: float, source: str = "notify", recheck_attempt: int = 0
) -> dict[str, Any]:
    job = get_current_job()
    source = EARLIER_SOURCE_NAMES.get(source, source)
    replays = int(job.meta.get(REPLAYS_META, 0)) if job else 0
    ctx = get_context()
    result = reconcile(ctx, payload, received_at, source, recheck_attempt, job_id=job.id if job else None,
                       replays=replays)
    if job is not None and result["outcome"] == UNKNOWN_ORDER:
        job.result_ttl = ctx.settings.unknown_order_ttl_s  # RQ keeps the finished job (and result) this long
    return result


def deliver_transition(order_id: int, event_id: str) -> dict[str, Any]:
    return deliver(get_context(), order_id, event_id)


def on_job_failure(job: Job, connection: redis.Redis, exc_type: type, exc_value: BaseException, tb: Any) -> None:
    """RQ failure callback: stop retries an error cannot be cured by, and count the outcome."""
    if isinstance(exc_value, NOT_RETRYABLE):
        job.retries_left = 0
    final = not job.retries_left
    if job.func_name.endswith("reconcile_notification"):
        metrics.reconcile_total.labels(outcome="failed" if final else "retry").inc()
    log.warning(
        "job_failed" if final else "job_will_retry",
        job_id=job.id,
        func=job.func_name.rsplit(".", 1)[-1],
        error=f"{exc_type.__name__}: {exc_value}",
        retries_left=job.retries_left,
    )


def sweep_orders(since_s: float, every_s: int = 0, period: int = 0) -> dict[str, Any]:
    """Reconcile orders updated in the last ``since_s`` seconds that the store is behind on.

    ``every_s``/``period`` are set on the scheduled sweeps of
    :mod:`worker.sweep_schedule`: such a run first schedules the next period
    (so a failing sweep does not end the schedule), and does nothing once the
    worker's ``STRIPAY_SWEEP_EVERY_S`` is 0.
    """
    from worker.sweep import sweep
    from worker.sweep_schedule import schedule_after

    ctx = get_context()
    if every_s:
        if ctx.settings.sweep_every_s <= 0:
            log.info("sweep_schedule_off", period=period)
            return {"skipped": "STRIPAY_SWEEP_EVERY_S is 0"}
        schedule_after(ctx.redis, ctx.settings, every_s, period)
    result = sweep(ctx.redis, ctx.stripay, ctx.settings, since_s)
    log.info("sweep", checked=result.checked, in_window=result.in_window, enqueued=result.enqueued,
             already_queued=result.already_queued, pages=result.pages)
    return {key: value for key, value in result.as_json().items() if key != "orders"}
