"""Signed notification payloads for tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.signature import sign

MERCHANT_KEY = "098f6bcd4621d373cade4e832627b4f6"
VECTORS_PATH = Path(__file__).resolve().parents[1] / "fixtures" / "sign-vectors.json"


def signed(payload: dict[str, Any], key: str = MERCHANT_KEY) -> dict[str, Any]:
    body = {k: v for k, v in payload.items() if k != "sign"}
    body["sign"] = sign(body, key)
    return body


def order_payload(order_id: int = 1, status: str = "completed", updated_at: str = "2023-01-10T03:43:37.000Z",
                  **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": order_id,
        "merchantId": 1,
        "merchantOrderId": f"order-{order_id}",
        "amount": 1.99,
        "currency": "USD",
        "successUrl": "https://shop.example/success",
        "failUrl": "https://shop.example/fail",
        "email": "buyer@example.com",
        "ip": "102.171.177.216",
        "riskScore": 0,
        "status": status,
        "statusNote": None,
        "is3ds": False,
        "createdAt": "2023-01-10T03:39:53.000Z",
        "updatedAt": updated_at,
    }
    payload.update(extra)
    return signed(payload)


def load_vectors() -> list[dict[str, Any]]:
    """Stripay's own genSign outputs (a copy of the reference vectors)."""
    return list(json.loads(VECTORS_PATH.read_text())["vectors"])
