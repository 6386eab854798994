"""Read an order from Stripay's API for a reconcile: the merchant's key, a numbered read, the answer cache.

Every read is numbered by :meth:`shared.order_store.OrderStore.begin_fetch`
before the request is sent; the order store uses the number to order two
answers that carry the same ``updatedAt`` (see :mod:`shared.order_store`).

The answer cache (``stripay:apicache:<merchant>:<id>``, ``STRIPAY_COALESCE_S``)
lets the jobs of duplicate notifications share one API call. It is read in the
same round trip that numbers the read, and written by the apply script
(:class:`shared.order_store.AnswerCache`) in the round trip that applies the
answer, whatever the outcome; an answer refused before the apply is written by
:func:`cache_answer`. A cached answer
stands in for a read only when it is surely at least as new as the
notification: a later ``updatedAt``, or the same ``updatedAt`` and the same
status. At the same ``updatedAt`` with another status it may be the earlier of
two changes within one second, so the order is read again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.jsvalue import js_string
from shared.keys import api_cache_key
from shared.order import Order, OrderFormatError
from shared.order_store import AnswerCache
from worker.context import WorkerContext


class ReconcileFailed(Exception):
    """The event cannot succeed by retrying; the message says why, for an operator."""


@dataclass(frozen=True)
class FetchedOrder:
    order: Order
    seq: int  # the number of the API read that gave this answer
    coalesced: bool  # taken from the cache of another job's read
    cache: AnswerCache | None = None  # where to cache this answer (None when it came from the cache)


def merchant_of(payload: Mapping[str, Any]) -> str | None:
    """The notification's ``merchantId`` as text (None when it has none)."""
    value = payload.get("merchantId")
    return None if value is None or value == "" else js_string(value)


def cache_stands_in(order: Order, notified_ms: int | None, notified_status: object) -> bool:
    """Whether a cached answer is surely at least as new as the notification."""
    if notified_ms is None:
        return True
    if order.updated_ms != notified_ms:
        return order.updated_ms > notified_ms
    return order.status == notified_status


def _cached(raw: bytes | None) -> tuple[Order, int] | None:
    if raw is None:
        return None
    try:
        entry = json.loads(raw)
        return Order.from_api(entry["order"]), int(entry["seq"])
    except (OrderFormatError, ValueError, KeyError, TypeError):
        return None


def fetch_order(ctx: WorkerContext, order_id: int, notified_ms: int | None, notified_status: object = None,
                merchant: str | None = None, use_cache: bool = True) -> FetchedOrder:
    """The API's order, read with ``merchant``'s key (or taken from the cache, see the module docstring)."""
    cache_key = api_cache_key(order_id, merchant)
    # One round trip: the cache entry, and the read's number (taken before the request is sent).
    raw, seq = ctx.store.read_cache_and_begin_fetch(order_id, cache_key if use_cache else None)
    cached = _cached(raw)
    if cached is not None and cache_stands_in(cached[0], notified_ms, notified_status):
        return FetchedOrder(cached[0], cached[1], True)
    order = ctx.stripay.order(ctx.settings.api_key_for(merchant), order_id=order_id)
    if order.id != order_id:
        raise ReconcileFailed(f"Stripay answered order {order.id} when asked for order {order_id}")
    return FetchedOrder(order, seq, False, AnswerCache(cache_key, max(1, int(ctx.settings.coalesce_s * 1000))))


def cache_answer(ctx: WorkerContext, fetched: FetchedOrder) -> None:
    """Write the answer cache entry of an answer that is not applied (the apply script writes it otherwise)."""
    if fetched.cache is not None:
        entry = json.dumps({"order": dict(fetched.order.fields), "seq": fetched.seq})
        ctx.redis.set(fetched.cache.key, entry, px=fetched.cache.ttl_ms)


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
