"""POST /stripay/notify: verify, remember-and-enqueue, and only then answer ``OK``."""

from __future__ import annotations

import time

import redis.exceptions
from aiohttp import web

from receiver.appkeys import EVENT_QUEUE, QUARANTINE, SETTINGS
from receiver.parsing import parse_body
from shared import metrics
from shared.logging import get_logger
from shared.notification import MalformedNotification, order_id_of
from shared.signature import SignatureError, verify

log = get_logger("receiver.notify")


def _answer(result: str, http_status: int, text: str, started: float, **fields: object) -> web.Response:
    ack_s = time.perf_counter() - started
    metrics.notifications_total.labels(result=result).inc()
    metrics.notify_ack_seconds.observe(ack_s)
    log_method = log.info if http_status < 500 else log.warning
    log_method("notification", result=result, http_status=http_status, ack_ms=round(ack_s * 1000, 3), **fields)
    return web.Response(status=http_status, text=text, content_type="text/plain")


async def notify(request: web.Request) -> web.Response:
    started = time.perf_counter()
    received_at = time.time()
    app = request.app
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _answer("too_large", 413, "body too large", started)

    try:
        payload = parse_body(raw, request.content_type)
        order_id = order_id_of(payload)
        if "sign" not in payload or payload["sign"] in (None, ""):
            raise MalformedNotification("missing sign")
        if not isinstance(payload["sign"], str):
            raise MalformedNotification("sign must be a string")
    except MalformedNotification as err:
        return _answer("malformed", 400, str(err), started, reason=str(err))

    fields = {
        "order_id": order_id,
        "merchant_order_id": payload.get("merchantOrderId"),
        "status": payload.get("status"),
    }
    try:
        verify(payload, app[SETTINGS].keys_for(payload.get("merchantId")))
    except SignatureError as err:
        try:
            await app[QUARANTINE].add(raw, request.content_type, str(err), received_at)
            metrics.rejected_quarantined_total.inc()
        except redis.exceptions.RedisError as quarantine_err:
            log.warning("quarantine_write_failed", error=type(quarantine_err).__name__, **fields)
        return _answer("bad_signature", 403, str(err), started, reason=str(err), **fields)

    try:
        outcome = await app[EVENT_QUEUE].enqueue(payload, received_at)
    except redis.exceptions.RedisError as err:
        return _answer("unavailable", 503, "temporarily unavailable", started, error=type(err).__name__, **fields)
    result = "accepted" if outcome.accepted else "duplicate"
    return _answer(result, 200, "OK", started, job_id=outcome.job_id, **fields)
