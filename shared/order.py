"""The order as Stripay's API returns it, validated."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

# Fields compared between a notification and the API's order; a difference is a mismatch.
COMPARED_FIELDS = ("status", "amount", "currency", "merchantOrderId")

# An order's life at Stripay: paid or declined, then refunded or disputed, and a dispute is
# won (completed again) or lost (refunded). Refunded and rejected are final.
NEXT_STATUSES = {
    "pending": ("completed", "rejected"),
    "completed": ("refunded", "disputed"),
    "disputed": ("completed", "refunded"),
    "refunded": (),
    "rejected": (),
}


def may_lead_to(earlier: object, later: str) -> bool:
    """Whether an order in status ``earlier`` can reach ``later`` by one or more changes: a
    notification claiming ``earlier`` at the same ``updatedAt`` as an API answer in ``later``
    can be a genuine earlier change of that second."""
    seen: set[str] = set()
    frontier = [earlier] if isinstance(earlier, str) else []
    while frontier:
        status = frontier.pop()
        for following in NEXT_STATUSES.get(status, ()):
            if following == later:
                return True
            if following not in seen:
                seen.add(following)
                frontier.append(following)
    return False


class OrderFormatError(ValueError):
    """An order object that cannot be read; ``str(err)`` says what is wrong."""


def parse_timestamp_ms(value: object, name: str = "updatedAt") -> int:
    """Milliseconds since the epoch of an ISO 8601 timestamp such as ``2023-01-10T03:43:37.000Z``."""
    if not isinstance(value, str) or not value:
        raise OrderFormatError(f"{name} missing or not a string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise OrderFormatError(f"{name} is not an ISO 8601 timestamp: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp() * 1000)


@dataclass(frozen=True)
class Order:
    id: int
    status: str
    updated_at: str
    updated_ms: int
    fields: Mapping[str, Any]  # every field as the API returned it

    @classmethod
    def from_api(cls, data: object) -> "Order":
        if not isinstance(data, dict):
            raise OrderFormatError("order is not an object")
        order_id = data.get("id")
        if isinstance(order_id, bool) or not isinstance(order_id, int):
            raise OrderFormatError("order id missing or not an integer")
        status = data.get("status")
        if not isinstance(status, str) or not status:
            raise OrderFormatError("order status missing or not a string")
        updated_at = data.get("updatedAt")
        updated_ms = parse_timestamp_ms(updated_at)
        return cls(id=order_id, status=status, updated_at=str(updated_at), updated_ms=updated_ms, fields=dict(data))

    def differences(self, notification: Mapping[str, Any]) -> list[str]:
        """Names of compared fields where a notification disagrees with this order."""
        return [name for name in COMPARED_FIELDS if name in notification and notification[name] != self.fields.get(name)]
