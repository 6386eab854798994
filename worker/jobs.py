"""RQ job entry points (referenced by dotted path from the receiver's jobs)."""

from __future__ import annotations

from typing import Any


def reconcile_notification(payload: dict[str, Any], received_at: float, source: str = "notify") -> dict[str, Any]:
    """Placeholder until the reconcile worker lands: acknowledges the event."""
    return {"order_id": payload.get("id"), "status": payload.get("status"), "source": source}
