"""Apply an order state read from Stripay's API: the one path for every signal
(notification, recheck, sweep, the customer's return to the ok page).

The worker applies with the blocking :class:`~shared.order_store.OrderStore`,
the receiver's okPage with :class:`~shared.order_store.AsyncOrderStore` on its
async client; both write the same script call, delivery job and metrics.
"""

from __future__ import annotations

import time
from typing import Any

from shared import metrics
from shared.event_queue import build_rq_job, hset_fields
from shared.keys import DELIVER_JOB
from shared.order import Order
from shared.order_store import ApplyResult, AsyncOrderStore, OrderStore, event_id_for
from shared.settings import Settings

# Where the state came from, as recorded in the history.
HISTORY_SOURCE = {"notify": "notify", "recheck": "poll", "reconcile": "poll", "sweep": "sweep", "return": "return",
                  "replay": "notify"}


def delivery_job(settings: Settings, order: Order) -> tuple[str, str, list[Any]] | None:
    """The downstream delivery job written with the transition, when deliveries are configured."""
    if not (settings.forward_url or settings.handler):
        return None
    event_id = event_id_for(order)
    job = build_rq_job(DELIVER_JOB, (order.id, event_id), settings, description=f"deliver {event_id}",
                       job_id=f"deliver-{event_id}")
    return job.key, job.id, hset_fields(job)


def _count(result: ApplyResult, order: Order, received_at: float) -> ApplyResult:
    if result.outcome == "applied":
        metrics.order_transitions_total.labels(**{"from": result.previous_status or "none", "to": order.status}).inc()
        metrics.end_to_end_seconds.observe(max(0.0, time.time() - received_at))
    return result


def apply_verified(store: OrderStore, settings: Settings, order: Order, source: str,
                   received_at: float) -> ApplyResult:
    """Store ``order`` forwards-only, with its history entry and delivery job."""
    result = store.apply(order, HISTORY_SOURCE.get(source, source), delivery_job(settings, order))
    return _count(result, order, received_at)


async def apply_verified_async(store: AsyncOrderStore, settings: Settings, order: Order, source: str,
                               received_at: float) -> ApplyResult:
    """:func:`apply_verified` for asyncio code."""
    result = await store.apply(order, HISTORY_SOURCE.get(source, source), delivery_job(settings, order))
    return _count(result, order, received_at)
