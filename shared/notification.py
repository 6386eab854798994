"""What a Stripay notification is, beyond its signature: its order id and identity."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from shared.jsvalue import js_string


class MalformedNotification(ValueError):
    """The payload lacks what every notification must carry; ``str(err)`` says what."""


def order_id_of(payload: Mapping[str, Any]) -> int:
    """The Stripay order id: a JSON integer or a string of digits."""
    if "id" not in payload or payload["id"] is None or payload["id"] == "":
        raise MalformedNotification("missing id")
    raw = payload["id"]
    if isinstance(raw, bool):
        raise MalformedNotification("id must be an integer")
    if isinstance(raw, int):
        order_id = raw
    elif isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 19:
        order_id = int(raw)
    else:
        raise MalformedNotification("id must be an integer or a numeric string")
    if not 0 <= order_id < 2**63:
        raise MalformedNotification("id out of range")
    return order_id


def identity_of(payload: Mapping[str, Any]) -> str:
    """(merchantId, id, status, updatedAt) as one compact string.

    Stripay's retries of one status change carry the same four values, so they
    share an identity; a real change moves ``status`` or ``updatedAt``.
    """

    def part(name: str) -> str | None:
        value = payload.get(name)
        return None if value is None else js_string(value)

    return json.dumps(
        [part("merchantId"), order_id_of(payload), part("status"), part("updatedAt")],
        separators=(",", ":"),
        ensure_ascii=False,
    )
