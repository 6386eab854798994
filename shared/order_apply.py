"""Apply an order state read from Stripay's API: the one path for every signal
(notification, recheck, sweep, the customer's return to the ok page).

The worker applies with the blocking :class:`~shared.order_store.OrderStore`,
the receiver's okPage with :class:`~shared.order_store.AsyncOrderStore` on its
async client; both write the same script call, delivery job and metrics.

A same-second tie the store cannot order (``tie``, see :mod:`shared.order_store`)
from a read without a number (the okPage looks orders up by merchantOrderId, so
it cannot number the read beforehand) is handed to a reconcile job, whose reads
are numbered; the worker's reconcile numbers its reads and reads again itself.
"""

from __future__ import annotations

import time
from typing import Any

from shared import metrics
from shared.jobs import delivery_job_fields, enqueue_reconcile, enqueue_reconcile_async
from shared.order import Order
from shared.order_store import AnswerCache, ApplyResult, AsyncOrderStore, OrderStore, event_id_for
from shared.settings import Settings

# ``source`` is what brought the state, recorded as it is in the history: "notify" (a
# notification, also when replayed), "poll" (the API asked on its own: a recheck, an
# operator's reconcile), "sweep", "return" (the customer's return to the ok page).


def delivery_job(settings: Settings, order: Order) -> tuple[str, str, list[Any]] | None:
    """The downstream delivery job written with the transition, when deliveries are configured."""
    if not (settings.forward_url or settings.handler):
        return None
    return delivery_job_fields(settings, order.id, event_id_for(order))


def _count(result: ApplyResult, order: Order, received_at: float) -> ApplyResult:
    if result.outcome == "applied":
        metrics.order_transitions_total.labels(**{"from": result.previous_status or "none", "to": order.status}).inc()
        metrics.end_to_end_seconds.observe(max(0.0, time.time() - received_at))
    return result


def tie_reconcile_payload(order: Order) -> dict[str, Any]:
    """The reconcile job that settles a tie of an unnumbered read (with the order's merchant)."""
    payload: dict[str, Any] = {"id": order.id, "status": order.status, "updatedAt": order.updated_at}
    if order.fields.get("merchantId") is not None:
        payload["merchantId"] = order.fields["merchantId"]
    return payload


def apply_verified(store: OrderStore, settings: Settings, order: Order, source: str,
                   received_at: float, fetch_seq: int | None = None, cache: AnswerCache | None = None) -> ApplyResult:
    """Store ``order`` forwards-only, with its history entry and delivery job; ``fetch_seq``
    is the number of the read that gave ``order`` (:meth:`OrderStore.begin_fetch`); ``cache``
    is where the same script call writes the answer cache entry (:meth:`OrderStore.apply`)."""
    result = store.apply(order, source, delivery_job(settings, order), fetch_seq, cache)
    if result.outcome == "tie" and fetch_seq is None:
        enqueue_reconcile(store.client, settings, tie_reconcile_payload(order), source, received_at=received_at)
    return _count(result, order, received_at)


async def apply_verified_async(store: AsyncOrderStore, settings: Settings, order: Order, source: str,
                               received_at: float) -> ApplyResult:
    """:func:`apply_verified` for asyncio code (reads without a number)."""
    result = await store.apply(order, source, delivery_job(settings, order))
    if result.outcome == "tie":
        await enqueue_reconcile_async(store.client, settings, tie_reconcile_payload(order), source, received_at)
    return _count(result, order, received_at)
