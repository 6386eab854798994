"""Turn a notification (a hint) into the API's truth, applied once and forwards only."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from rq.exceptions import DuplicateJobError

from shared import metrics
from shared.event_queue import build_rq_job
from shared.jsvalue import js_string
from shared.keys import RECONCILE_JOB, api_cache_key
from shared.logging import get_logger
from shared.notification import identity_of, order_id_of
from shared.order import Order, OrderFormatError, parse_timestamp_ms
from shared.order_apply import apply_verified
from worker.context import WorkerContext

log = get_logger("worker.reconcile")


class ReconcileFailed(Exception):
    """The event cannot succeed by retrying; the message says why, for an operator."""


def _notified_ms(payload: Mapping[str, Any]) -> int | None:
    try:
        return parse_timestamp_ms(payload.get("updatedAt"))
    except OrderFormatError:
        return None


def merchant_of(payload: Mapping[str, Any]) -> str | None:
    """The notification's ``merchantId`` as text (None when it has none)."""
    value = payload.get("merchantId")
    return None if value is None or value == "" else js_string(value)


def fetch_order(ctx: WorkerContext, order_id: int, notified_ms: int | None,
                merchant: str | None = None) -> tuple[Order, bool]:
    """The API's order, asked with ``merchant``'s key; a fresh answer fetched for another
    job of this order is reused when it is at least as new as the notification.
    Returns (order, coalesced)."""
    cache_key = api_cache_key(order_id, merchant)
    cached = ctx.redis.get(cache_key)
    if cached is not None:
        try:
            order = Order.from_api(json.loads(cached))
        except (OrderFormatError, ValueError):
            order = None
        if order is not None and (notified_ms is None or order.updated_ms >= notified_ms):
            return order, True
    order = ctx.stripay.order(ctx.settings.api_key_for(merchant), order_id=order_id)
    if order.id != order_id:
        raise ReconcileFailed(f"Stripay answered order {order.id} when asked for order {order_id}")
    ctx.redis.set(cache_key, json.dumps(dict(order.fields)), px=max(1, int(ctx.settings.coalesce_s * 1000)))
    return order, False


def check_merchant(order: Order, merchant: str | None) -> None:
    """An order is only changed by its own merchant's answer: the API's ``merchantId`` must
    be the notification's (a notification signed by merchant B naming merchant A's order
    is refused here, whatever B's key was able to read)."""
    answered = order.fields.get("merchantId")
    if merchant is not None and (answered is None or js_string(answered) != merchant):
        raise ReconcileFailed(
            f"order {order.id} belongs to merchant {answered!r} by Stripay's answer, not to the notifying "
            f"merchant {merchant!r}; nothing was changed"
        )


def _schedule_recheck(ctx: WorkerContext, payload: Mapping[str, Any], received_at: float, attempt: int) -> float:
    """Schedule recheck ``attempt + 1``; its job id is derived from the notification,
    so a re-run of this job does not schedule a second one."""
    delay_s = ctx.settings.recheck_s[attempt]
    root = hashlib.sha1(identity_of(payload).encode()).hexdigest()[:20]
    job = build_rq_job(
        RECONCILE_JOB,
        (dict(payload), received_at, "recheck"),
        ctx.settings,
        description=f"recheck order {payload.get('id')} ({attempt + 1})",
        job_id=f"recheck-{root}-{attempt + 1}",
        kwargs={"recheck_attempt": attempt + 1},
    )
    try:
        ctx.queue.schedule_job(job, datetime.now(timezone.utc) + timedelta(seconds=delay_s), unique=True)
    except DuplicateJobError:
        pass  # already scheduled by an earlier run of this job
    return delay_s


def reconcile(
    ctx: WorkerContext,
    payload: Mapping[str, Any],
    received_at: float,
    source: str = "notify",
    recheck_attempt: int = 0,
    job_id: str | None = None,
) -> dict[str, Any]:
    started = time.perf_counter()
    order_id = order_id_of(payload)
    bound = log.bind(order_id=order_id, job_id=job_id, source=source, notified_status=payload.get("status"))
    notified_ms = _notified_ms(payload) if source != "reconcile" else None
    merchant = merchant_of(payload)
    order, coalesced = fetch_order(ctx, order_id, notified_ms, merchant)
    check_merchant(order, merchant)

    # Behind: older than the notification and not yet in the notified status.
    api_behind = notified_ms is not None and order.updated_ms < notified_ms and order.status != payload.get("status")
    # A notification older than the API's order (a retry, a late or replayed delivery)
    # is expected to differ; one that claims the API's version or a newer one must not.
    api_newer = notified_ms is not None and order.updated_ms > notified_ms
    differences = order.differences(payload) if source in ("notify", "replay", "recheck") else []
    if differences and not api_behind and not api_newer:
        metrics.reconcile_total.labels(outcome="mismatch").inc()
        bound.warning("notification_mismatch", fields=differences, api_status=order.status)

    result = apply_verified(ctx.store, ctx.settings, order, source, received_at)
    outcome = {"applied": "applied", "updated": "unchanged", "unchanged": "unchanged", "stale": "stale"}[result.outcome]
    recheck_in_s: float | None = None
    if api_behind:
        if recheck_attempt >= len(ctx.settings.recheck_s):
            raise ReconcileFailed(
                f"Stripay's API still shows {order.status} at {order.updated_at}, behind the notified "
                f"{payload.get('status')} at {payload.get('updatedAt')}, after {recheck_attempt} rechecks"
            )
        recheck_in_s = _schedule_recheck(ctx, payload, received_at, recheck_attempt)
        if result.outcome != "applied":
            outcome = "retry"
    metrics.reconcile_total.labels(outcome=outcome).inc()
    elapsed_s = time.perf_counter() - started
    metrics.reconcile_seconds.observe(elapsed_s)
    bound.info(
        "reconcile",
        outcome=outcome,
        store=result.outcome,
        api_status=order.status,
        previous_status=result.previous_status,
        coalesced=coalesced,
        recheck_in_s=recheck_in_s,
        mismatch=differences or None,
        duration_ms=round(elapsed_s * 1000, 2),
    )
    return {"order_id": order_id, "outcome": outcome, "status": order.status, "event_id": result.event_id}
