"""The order store: Stripay's order objects, their statuses and timestamps.

By default every change of an order moves its ``updatedAt`` strictly forward
(by 1 ms when the clock did not move), so (id, status, updatedAt) identifies a
change. Real Stripay writes whole seconds, so two changes within one second
carry the same ``updatedAt``; :data:`UPDATED_AT_MODES` produce that on purpose:

* ``strict`` (default): strictly increasing, millisecond precision;
* ``whole_seconds``: Stripay's precision: the clock rounded down to the second,
  never backwards, so changes within one second share ``updatedAt``;
* ``same``: a change keeps the order's ``updatedAt`` as it is (every pair of
  changes ties, deterministically).

Order ids count across all merchants; each order belongs to one merchant.
A listener is told about every status change; the notifier is that listener.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

STATUSES = ("pending", "completed", "rejected", "refunded", "disputed")
NOTIFY_STATUSES = frozenset({"completed", "rejected", "refunded", "disputed"})
UPDATED_AT_MODES = ("strict", "whole_seconds", "same")


def wall_clock_ms() -> int:
    """Milliseconds since the Unix epoch."""
    return time.time_ns() // 1_000_000


def iso_ms(epoch_ms: int) -> str:
    """Stripay's timestamp format: ``2023-01-10T03:43:37.000Z``."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


@dataclass(frozen=True)
class Order:
    """One order; immutable, a change produces a new value."""

    id: int
    merchant_id: int
    merchant_order_id: str
    amount: int | float
    currency: str
    success_url: str
    fail_url: str
    notify_url: str | None
    email: str
    ip: str
    risk_score: int
    status: str
    status_note: str | None
    is3ds: bool
    created_at_ms: int
    updated_at_ms: int

    def to_api(self) -> dict[str, Any]:
        """The order as ``/v1/order`` shows it and as notifications carry it (field order of the docs)."""
        return {
            "id": self.id,
            "merchantId": self.merchant_id,
            "merchantOrderId": self.merchant_order_id,
            "amount": self.amount,
            "currency": self.currency,
            "successUrl": self.success_url,
            "failUrl": self.fail_url,
            "email": self.email,
            "ip": self.ip,
            "riskScore": self.risk_score,
            "status": self.status,
            "statusNote": self.status_note,
            "is3ds": self.is3ds,
            "createdAt": iso_ms(self.created_at_ms),
            "updatedAt": iso_ms(self.updated_at_ms),
        }


@dataclass(frozen=True)
class NewOrder:
    """The caller-chosen fields of an order about to be created (it starts ``pending``)."""

    merchant_order_id: str
    amount: int | float
    currency: str
    success_url: str
    fail_url: str
    notify_url: str | None
    email: str
    ip: str
    risk_score: int = 0
    is3ds: bool = False


class UnknownStatus(ValueError):
    pass


def next_updated_at_ms(mode: str, now_ms: int, current_ms: int) -> int:
    """The ``updatedAt`` of a change at ``now_ms`` to an order last updated at ``current_ms``."""
    if mode == "same":
        return current_ms
    if mode == "whole_seconds":
        return max(now_ms - now_ms % 1000, current_ms)
    return max(now_ms, current_ms + 1)


class OrderStore:
    """All orders of every merchant in memory; ids count from 1 (again after :meth:`clear`)."""

    def __init__(
        self,
        merchant_id: int,
        on_status_change: Callable[[Order], None],
        clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self._merchant_id = merchant_id
        self._on_status_change = on_status_change
        self._clock_ms = clock_ms
        self._orders: dict[int, Order] = {}
        self.updated_at_mode = "strict"

    def clear(self) -> None:
        self._orders.clear()
        self.updated_at_mode = "strict"

    def set_updated_at_mode(self, mode: str) -> None:
        if mode not in UPDATED_AT_MODES:
            raise ValueError(f"updatedAt mode must be one of {', '.join(UPDATED_AT_MODES)}")
        self.updated_at_mode = mode

    @property
    def next_id(self) -> int:
        return len(self._orders) + 1

    def create(self, fields: NewOrder, merchant_id: int | None = None) -> Order:
        now_ms = self._clock_ms()
        if self.updated_at_mode != "strict":
            now_ms -= now_ms % 1000
        order = Order(
            id=self.next_id,
            merchant_id=self._merchant_id if merchant_id is None else merchant_id,
            merchant_order_id=fields.merchant_order_id,
            amount=fields.amount,
            currency=fields.currency,
            success_url=fields.success_url,
            fail_url=fields.fail_url,
            notify_url=fields.notify_url,
            email=fields.email,
            ip=fields.ip,
            risk_score=fields.risk_score,
            status="pending",
            status_note=None,
            is3ds=fields.is3ds,
            created_at_ms=now_ms,
            updated_at_ms=now_ms,
        )
        self._orders[order.id] = order
        return order

    def get(self, order_id: int) -> Order | None:
        return self._orders.get(order_id)

    def by_merchant_order_id(self, merchant_order_id: str, merchant_id: int | None = None) -> Order | None:
        """The newest order of ``merchant_id`` (any when None) carrying ``merchant_order_id``
        (Stripay does not force them unique)."""
        matches = [order for order in self._orders.values() if order.merchant_order_id == merchant_order_id
                   and (merchant_id is None or order.merchant_id == merchant_id)]
        return matches[-1] if matches else None

    def page(self, page: int, limit: int, merchant_id: int | None = None) -> tuple[int, list[Order]]:
        """``(total, orders)`` of 1-based ``page`` of ``merchant_id``'s orders (all when None), oldest first."""
        ordered = [order for order in self._orders.values() if merchant_id is None or order.merchant_id == merchant_id]
        start = (page - 1) * limit
        return len(ordered), ordered[start:start + limit]

    def set_status(self, order_id: int, status: str, status_note: str | None = None) -> Order:
        """Move an order to ``status``; unchanged status and note is a no-op (no new ``updatedAt``).

        Raises ``KeyError`` for an unknown order and :class:`UnknownStatus` for a status
        Stripay does not have. The listener hears about every change of status.
        """
        if status not in STATUSES:
            raise UnknownStatus(f"status must be one of {', '.join(STATUSES)}")
        current = self._orders[order_id]
        if current.status == status and current.status_note == status_note:
            return current
        changed = replace(
            current,
            status=status,
            status_note=status_note,
            updated_at_ms=next_updated_at_ms(self.updated_at_mode, self._clock_ms(), current.updated_at_ms),
        )
        self._orders[order_id] = changed
        if changed.status != current.status:
            self._on_status_change(changed)
        return changed
