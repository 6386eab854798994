"""Hand applied transitions to downstream systems (at least once; ids are stable).

The transition is already in the ``stripay:transitions`` stream when this
runs; a failure here raises, so RQ retries it with backoff and, when the
retries are spent, keeps it in the failed registry for replay.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import json
import time
from collections.abc import Callable
from typing import Any

import urllib3

from shared import metrics
from shared.logging import get_logger
from worker.context import WorkerContext

log = get_logger("worker.delivery")


class DeliveryFailed(Exception):
    pass


def standard_webhook_headers(secret: str, msg_id: str, body: bytes, timestamp_s: int) -> dict[str, str]:
    """Standard Webhooks signature headers (``v1`` HMAC-SHA256 over ``id.timestamp.body``)."""
    key = base64.b64decode(secret.removeprefix("whsec_")) if secret.startswith("whsec_") else secret.encode()
    signed = f"{msg_id}.{timestamp_s}.".encode() + body
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp_s),
        "webhook-signature": f"v1,{signature}",
        "content-type": "application/json",
    }


def load_handler(path: str) -> Callable[[dict[str, Any]], Any]:
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise DeliveryFailed(f"STRIPAY_HANDLER must look like package.module:function, got {path!r}")
    return getattr(importlib.import_module(module_name), attr)  # type: ignore[no-any-return]


def transition_event(ctx: WorkerContext, order_id: int, event_id: str) -> dict[str, Any]:
    entry = ctx.store.history_entry(order_id, event_id)
    stored = ctx.store.get(order_id)
    if entry is None or stored is None:
        raise DeliveryFailed(f"transition {event_id} of order {order_id} is not in the store")
    return {"id": event_id, "type": "order.transition", "order_id": order_id, "from": entry.get("from"),
            "to": entry.get("to"), "at": entry.get("at"), "source": entry.get("source"), "order": stored.state}


def deliver(ctx: WorkerContext, order_id: int, event_id: str) -> dict[str, Any]:
    event = transition_event(ctx, order_id, event_id)
    delivered: list[str] = []
    settings = ctx.settings
    if settings.forward_url:
        body = json.dumps(event, separators=(",", ":")).encode()
        headers = standard_webhook_headers(settings.forward_secret or "", event_id, body, int(time.time()))
        try:
            response = ctx.forwarding.request("POST", settings.forward_url, body=body, headers=headers,
                                              timeout=urllib3.Timeout(total=settings.api_timeout_s))
        except urllib3.exceptions.HTTPError as err:
            metrics.deliveries_total.labels(target="forward", result="error").inc()
            raise DeliveryFailed(f"forward to {settings.forward_url} failed: {type(err).__name__}") from None
        if not 200 <= response.status < 300:
            metrics.deliveries_total.labels(target="forward", result="error").inc()
            raise DeliveryFailed(f"forward answered HTTP {response.status}")
        metrics.deliveries_total.labels(target="forward", result="ok").inc()
        delivered.append("forward")
    if settings.handler:
        try:
            load_handler(settings.handler)(event)
        except Exception:
            metrics.deliveries_total.labels(target="handler", result="error").inc()
            raise
        metrics.deliveries_total.labels(target="handler", result="ok").inc()
        delivered.append("handler")
    log.info("delivered", event_id=event_id, order_id=order_id, targets=delivered)
    return {"event_id": event_id, "delivered": delivered}
