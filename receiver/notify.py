"""POST /stripay/notify: accept, remember-and-enqueue, and only then answer ``OK``."""

from __future__ import annotations

import time

import redis.exceptions
from aiohttp import web

from receiver.appkeys import ENQUEUER, QUARANTINE, SETTINGS
from receiver.body import TOO_SLOW_TEXT, BodyTooSlow
from shared import metrics
from shared.acceptance import BAD_SIGNATURE, MALFORMED, Notification, NotificationRejected, accept_notification
from shared.logging import get_logger

log = get_logger("receiver.notify")

NOTIFY_PATH = "/stripay/notify"  # the notifyUrl path Stripay posts to (routes, and BillRun's checkout)

HTTP_STATUS = {MALFORMED: 400, BAD_SIGNATURE: 403}


def _answer(result: str, http_status: int, text: str, started: float, **fields: object) -> web.Response:
    ack_s = time.perf_counter() - started
    metrics.notifications_total.labels(result=result).inc()
    metrics.notify_ack_seconds.observe(ack_s)
    log_method = log.info if http_status < 500 else log.warning
    log_method("notification", result=result, http_status=http_status, ack_ms=round(ack_s * 1000, 3), **fields)
    return web.Response(status=http_status, text=text, content_type="text/plain")


def _fields(notification: Notification | None) -> dict[str, object]:
    if notification is None:
        return {}
    payload = notification.payload
    return {"order_id": notification.order_id, "merchant_order_id": payload.get("merchantOrderId"),
            "status": payload.get("status")}


async def _quarantine(request: web.Request, raw: bytes, err: NotificationRejected, received_at: float) -> None:
    """Keep a notification with a bad signature, to replay once its key is configured."""
    try:
        if await request.app[QUARANTINE].add(raw, request.content_type, err.reason, received_at):
            metrics.rejected_quarantined_total.inc()
        else:
            metrics.rejected_not_kept_total.inc()
    except redis.exceptions.RedisError as quarantine_err:
        log.warning("quarantine_write_failed", error=type(quarantine_err).__name__, **_fields(err.unverified))


async def notify(request: web.Request) -> web.Response:
    started = time.perf_counter()
    received_at = time.time()
    app = request.app
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _answer("too_large", 413, "body too large", started)
    except BodyTooSlow:  # the connection is closed by the body deadline's middleware
        return _answer("too_slow", 408, TOO_SLOW_TEXT, started)

    try:
        notification = accept_notification(raw, request.content_type, app[SETTINGS].keys_for)
    except NotificationRejected as err:
        if err.kind == BAD_SIGNATURE:
            await _quarantine(request, raw, err, received_at)
        return _answer(err.kind, HTTP_STATUS[err.kind], err.reason, started, reason=err.reason,
                       **_fields(err.unverified))

    fields = _fields(notification)
    try:
        outcome = await app[ENQUEUER].enqueue(notification.payload, received_at)
    except redis.exceptions.RedisError as err:
        return _answer("unavailable", 503, "temporarily unavailable", started, error=type(err).__name__, **fields)
    result = "accepted" if outcome.accepted else "duplicate"
    return _answer(result, 200, "OK", started, job_id=outcome.job_id, **fields)
