"""Turn a notification (a hint) into the API's truth, applied once and forwards only."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from shared import metrics
from shared.jobs import recheck_job, schedule
from shared.logging import get_logger
from shared.notification import order_id_of
from shared.order import OrderFormatError, may_lead_to, parse_timestamp_ms
from shared.order_apply import apply_verified
from shared.order_store import ApplyResult, transition_id
from worker.context import WorkerContext
from shared.stripay_client import OrderNotFound
from worker.fetch import FetchedOrder, ReconcileFailed, cache_answer, check_merchant, fetch_order, merchant_of

log = get_logger("worker.reconcile")


UNKNOWN_ORDER = "unknown_order"
# Sources whose unknown order is forgery noise (or a typo), not a failure.
NOTIFICATION_SOURCES = ("notify",)  # a notification, also when replayed

# Reads of one order in a row that may end in a same-second tie before the job gives up (and is retried).
MAX_TIE_READS = 5

__all__ = ["ReconcileFailed", "reconcile"]


class TieUnresolved(Exception):
    """Reads of this order kept overlapping with other workers' reads; retried with backoff."""


def _notified_ms(payload: Mapping[str, Any]) -> int | None:
    try:
        return parse_timestamp_ms(payload.get("updatedAt"))
    except OrderFormatError:
        return None


def read_and_apply(ctx: WorkerContext, order_id: int, payload: Mapping[str, Any], notified_ms: int | None,
                   source: str, received_at: float) -> tuple[FetchedOrder, ApplyResult]:
    """Read the order (with its merchant's key) and apply the answer; on a same-second tie with a
    read that overlapped this one, read again: that read begins after both ended (see
    :mod:`shared.order_store`), so its answer is at least as new as either."""
    merchant = merchant_of(payload)
    use_cache = True
    for _ in range(MAX_TIE_READS):
        fetched = fetch_order(ctx, order_id, notified_ms, payload.get("status"), merchant, use_cache)
        try:
            check_merchant(fetched.order, merchant)
        except ReconcileFailed:
            cache_answer(ctx, fetched)  # a refused answer is cached like any other
            raise
        result = apply_verified(ctx.store, ctx.settings, fetched.order, source, received_at, fetched.seq,
                                fetched.cache)
        if result.outcome == "foreign":
            raise ReconcileFailed(
                f"order {order_id} is stored for another merchant than Stripay's answer names "
                f"({fetched.order.fields.get('merchantId')!r}); nothing was changed"
            )
        if result.outcome != "tie":
            return fetched, result
        metrics.same_second_ties_total.inc()
        use_cache = False
    raise TieUnresolved(f"order {order_id}: {MAX_TIE_READS} reads in a row overlapped other reads at one updatedAt")


def _schedule_recheck(ctx: WorkerContext, payload: Mapping[str, Any], received_at: float, attempt: int) -> float:
    """Schedule recheck ``attempt + 1``; its job id is derived from the notification,
    so a re-run of this job does not schedule a second one."""
    delay_s = ctx.settings.recheck_s[attempt]
    job = recheck_job(payload, received_at, ctx.settings, attempt + 1)
    schedule(ctx.redis, job, datetime.now(timezone.utc) + timedelta(seconds=delay_s))
    return delay_s


def unknown_order(order_id: int, bound: Any, started: float) -> dict[str, Any]:
    """A validly signed notification of an order Stripay does not know (a forgery that moved
    characters between fields, or a typo): its own outcome, not a failure, nothing changed."""
    metrics.reconcile_total.labels(outcome=UNKNOWN_ORDER).inc()
    elapsed_s = time.perf_counter() - started
    metrics.reconcile_seconds.observe(elapsed_s)
    bound.warning("reconcile", outcome=UNKNOWN_ORDER, duration_ms=round(elapsed_s * 1000, 2))
    return {"order_id": order_id, "outcome": UNKNOWN_ORDER, "status": None, "event_id": None}


def reconcile(
    ctx: WorkerContext,
    payload: Mapping[str, Any],
    received_at: float,
    source: str = "notify",
    recheck_attempt: int = 0,
    job_id: str | None = None,
    replays: int = 0,
) -> dict[str, Any]:
    """Read the order from Stripay's API and apply it. ``source`` is what brought the state, recorded
    as it is in the history: "notify" (a notification, also when replayed), "poll" (the API asked on
    its own: a recheck, an operator's reconcile), "sweep", "return" (the customer's return)."""
    started = time.perf_counter()
    order_id = order_id_of(payload)
    bound = log.bind(order_id=order_id, job_id=job_id, source=source, notified_status=payload.get("status"))
    if recheck_attempt:
        bound = bound.bind(recheck=recheck_attempt)
    if replays:
        bound = bound.bind(replays=replays)  # an operator put this job back after it failed
    notified_ms = _notified_ms(payload)
    try:
        fetched, result = read_and_apply(ctx, order_id, payload, notified_ms, source, received_at)
    except OrderNotFound:
        if source not in NOTIFICATION_SOURCES:
            raise  # an operator's or the sweep's read of an unknown order is a failure to look at
        return unknown_order(order_id, bound, started)
    order, coalesced = fetched.order, fetched.coalesced

    # Behind: older than the notification and not yet in the notified status.
    api_behind = notified_ms is not None and order.updated_ms < notified_ms and order.status != payload.get("status")
    # Same second, another status. If the notified status can lead to the API's, the order changed
    # again within that second: not a mismatch, and the store has the API's newer state. If not,
    # the notification claims a state the API does not show at that second: counted as a mismatch
    # (a forgery, or an API that has not caught up yet), and rechecked (unless the store has applied
    # that state already), but never failed for it.
    same_second = notified_ms is not None and order.updated_ms == notified_ms and order.status != payload.get("status")
    moved_on = same_second and may_lead_to(payload.get("status"), order.status)
    recheck_same_second = (same_second and not moved_on and recheck_attempt < len(ctx.settings.recheck_s)
                           and ctx.store.history_entry(
                               order_id, transition_id(order_id, order.updated_ms, payload.get("status"))) is None)
    # A notification older than the API's order (a retry, a late or replayed delivery)
    # is expected to differ; one that claims the API's version or a newer one must not.
    api_newer = notified_ms is not None and order.updated_ms > notified_ms
    differences = order.differences(payload) if source in ("notify", "poll") else []
    if moved_on:
        differences = [name for name in differences if name != "status"]
    if differences and not api_behind and not api_newer and not (same_second and recheck_attempt > 0):
        metrics.reconcile_total.labels(outcome="mismatch").inc()
        bound.warning("notification_mismatch", fields=differences, api_status=order.status)

    outcome = {"applied": "applied", "updated": "unchanged", "unchanged": "unchanged", "stale": "stale"}[result.outcome]
    recheck_in_s: float | None = None
    if api_behind or recheck_same_second:
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
