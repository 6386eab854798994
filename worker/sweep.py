"""The sweep: find orders whose stored state is behind Stripay's and reconcile them.

Stripay notifies five times over about a day and then gives up; a notification
lost on all five never reaches the receiver. The sweep pages through
``POST /v1/orders`` and queues a reconcile (source ``sweep``) for every order
updated within the window whose stored state is missing or older
(stored ``updated_ms`` < the API's). Used by ``stripay-hooks orders sweep``
and by the scheduled job :func:`worker.jobs.sweep_orders`.

Paging walks every page: Stripay does not document the order of
``/v1/orders`` (the simulator lists oldest first by creation), and an order
created long ago can be refunded or disputed today, so no page can be known to
hold only orders updated before the window. The walk stops at the first page
shorter than the limit, or one that brings no order not seen before (an API
that ignores ``page`` would otherwise loop forever).

Every configured merchant is swept with its own key (each merchant of
``STRIPAY_MERCHANTS_FILE`` and the one of ``STRIPAY_MERCHANT_KEY``); the
reconcile it queues names the order's ``merchantId``, so the worker reads the
order with that merchant's key too.

Each reconcile job id is ``sweep-<merchant id>-<order id>-<updated ms>``: a second sweep
before the first one's job has run (or while it sits among the failed jobs for
an operator) does not queue the same work again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from shared.jobs import enqueue_reconcile, swept_order_job_id
from shared.jsvalue import js_string
from shared.keys import order_key
from shared.order import Order
from shared.settings import Settings
from shared.stripay_client import StripayClient

PAGE_LIMIT = 100  # Stripay accepts 20..100
SOURCE = "sweep"

# Called after each page with (orders seen so far, total the API reported).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SweepCandidate:
    order_id: int
    merchant_id: str | None
    api_status: str
    api_updated_at: str
    stored_status: str | None
    stored_updated_ms: int | None
    job_id: str | None  # None: dry run, or the same reconcile is already queued

    def as_json(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "merchant_id": self.merchant_id,
            "api_status": self.api_status,
            "api_updated_at": self.api_updated_at,
            "stored_status": self.stored_status,
            "stored_updated_ms": self.stored_updated_ms,
            "job_id": self.job_id,
        }


@dataclass
class SweepResult:
    since_ms: int
    merchants: int = 0  # merchants swept
    pages: int = 0
    checked: int = 0  # orders listed by the API
    in_window: int = 0  # of those, updated within the window
    behind: list[SweepCandidate] = field(default_factory=list)  # stored state missing or older
    already_queued: int = 0
    dry_run: bool = False

    @property
    def enqueued(self) -> int:
        return sum(1 for candidate in self.behind if candidate.job_id is not None)

    def as_json(self) -> dict[str, Any]:
        return {
            "since_ms": self.since_ms,
            "merchants": self.merchants,
            "pages": self.pages,
            "checked": self.checked,
            "in_window": self.in_window,
            "behind": len(self.behind),
            "enqueued": self.enqueued,
            "already_queued": self.already_queued,
            "dry_run": self.dry_run,
            "orders": [candidate.as_json() for candidate in self.behind],
        }


def merchant_id_of(order: Order, listed_as: str | None) -> str | None:
    value = order.fields.get("merchantId")
    return listed_as if value is None or value == "" else js_string(value)


def is_behind(stored_ms: int | None, stored_status: str | None, order: Order) -> bool:
    """The store lacks the API's state: nothing stored, an older ``updatedAt``, or the same
    ``updatedAt`` with another status (two changes within one second of Stripay's clock)."""
    if stored_ms is None or stored_ms < order.updated_ms:
        return True
    return stored_ms == order.updated_ms and stored_status != order.status


def _stored(client: redis.Redis, orders: list[Order]) -> list[tuple[int | None, str | None]]:
    with client.pipeline(transaction=False) as pipe:
        for order in orders:
            pipe.hmget(order_key(order.id), "updated_ms", "status")
        replies = pipe.execute()
    stored: list[tuple[int | None, str | None]] = []
    for updated_ms, status in replies:
        stored.append((int(updated_ms) if updated_ms is not None else None,
                       status.decode() if status is not None else None))
    return stored


def sweep(
    client: redis.Redis,
    stripay: StripayClient,
    settings: Settings,
    since_s: float,
    dry_run: bool = False,
    now_s: float | None = None,
    limit: int = PAGE_LIMIT,
    on_page: Progress | None = None,
    merchant_id: str | None = None,
) -> SweepResult:
    """Queue a reconcile for each order updated in the last ``since_s`` seconds that the store is behind on,
    for every configured merchant (or only ``merchant_id``).

    Raises :class:`shared.stripay_client.ApiError` when a page cannot be read
    and Redis errors as they come; what was queued before stays queued.
    """
    since_ms = int(((time.time() if now_s is None else now_s) - since_s) * 1000)
    result = SweepResult(since_ms=since_ms, dry_run=dry_run)
    merchants = settings.api_merchants()
    if merchant_id is not None:
        merchants = [(merchant_id, settings.api_key_for(merchant_id))]
    for listed_as, key in merchants:
        result.merchants += 1
        _sweep_merchant(client, stripay, settings, key, listed_as, result, dry_run, limit, on_page)
    return result


def _sweep_merchant(client: redis.Redis, stripay: StripayClient, settings: Settings, key: str,
                    listed_as: str | None, result: SweepResult, dry_run: bool, limit: int,
                    on_page: Progress | None) -> None:
    """Page through one merchant's ``/v1/orders`` (see the module docstring)."""
    seen: set[int] = set()
    page = 1
    while True:
        listing = stripay.orders(key, page, limit)
        result.pages += 1
        fresh = [order for order in listing.orders if order.id not in seen]
        seen.update(order.id for order in fresh)
        result.checked += len(fresh)
        window = [order for order in fresh if order.updated_ms >= result.since_ms]
        result.in_window += len(window)
        for order, (stored_ms, stored_status) in zip(window, _stored(client, window)):
            if not is_behind(stored_ms, stored_status, order):
                continue
            merchant = merchant_id_of(order, listed_as)
            job_id = None
            if not dry_run:
                payload = {"id": order.id, "status": order.status, "updatedAt": order.updated_at}
                if merchant is not None:
                    payload["merchantId"] = order.fields.get("merchantId", merchant)
                job_id = enqueue_reconcile(client, settings, payload, SOURCE,
                                           job_id=swept_order_job_id(order.id, order.updated_ms, merchant), unique=True)
                if job_id is None:
                    result.already_queued += 1
            result.behind.append(SweepCandidate(order.id, merchant, order.status, order.updated_at, stored_status,
                                                stored_ms, job_id))
        if on_page is not None:
            on_page(result.checked, max(listing.total, result.checked))
        if len(listing.orders) < limit or not fresh:
            return
        page += 1
