"""Stripay's side of a txId: looking its order up, checking it is the one getRequest created,
and the part of it a BillRun page may see."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from receiver.appkeys import HTTP_SESSION, SETTINGS
from receiver.billrun.store import BillrunStore, TxRecord
from shared.logging import get_logger
from shared.order import Order
from shared.settings import Settings
from shared.stripay_client import ApiRejected, ApiUnavailable
from shared.stripay_pay import AsyncStripay

log = get_logger("receiver.billrun")

RETURN_TIMEOUT_S = 3.0  # okPage's lookup at Stripay; slower than this answers "pending"


def stripay(config: Mapping[Any, Any]) -> AsyncStripay:
    """Stripay's API with the default merchant's key (orders created here belong to it); never logged."""
    settings = config[SETTINGS]
    return AsyncStripay(config[HTTP_SESSION], settings.api_url, settings.api_key)


def return_timeout_s(settings: Settings) -> float:
    return min(RETURN_TIMEOUT_S, settings.api_timeout_s)


async def learn_order(config: Mapping[Any, Any], store: BillrunStore, tx_id: str) -> Order | None:
    """Stripay's new order (the pay answer does not name it), remembered with the txId; None if not known now."""
    try:
        order = await stripay(config).order(return_timeout_s(config[SETTINGS]), merchant_order_id=tx_id)
    except (ApiUnavailable, ApiRejected) as err:
        log.warning("billrun_order_lookup_failed", tx_id=tx_id, error=str(err))
        return None
    if order.fields.get("merchantOrderId") != tx_id:
        return None
    await store.set_order_id(tx_id, order.id)
    return order


def _same_amount(a: object, b: object) -> bool:
    try:
        return Decimal(repr(a)).quantize(Decimal("0.01")) == Decimal(repr(b)).quantize(Decimal("0.01"))
    except (InvalidOperation, TypeError, ValueError):
        return False


def mismatch(record: TxRecord, order: Order) -> str | None:
    """Why Stripay's order is not the one getRequest created for this txId, or None."""
    if order.fields.get("merchantOrderId") != record.tx_id:
        return "merchantOrderId"
    if record.order_id is not None and order.id != record.order_id:
        return "order id"
    if not _same_amount(order.fields.get("amount"), record.amount):
        return "amount"
    if record.currency is not None and str(order.fields.get("currency", "")).upper() != record.currency:
        return "currency"
    return None


def page_view(record: TxRecord, order: Order | None = None) -> dict[str, Any]:
    """What okPage tells: the transaction and the order's status, never the customer's email, IP,
    phone, risk score, status note or URLs."""
    fields = order.fields if order is not None else {}
    return {
        "txId": record.tx_id,
        "aid": record.aid,
        "amount": fields.get("amount", record.amount),
        "currency": fields.get("currency", record.currency),
        "status": order.status if order is not None else "pending",
        "order_id": order.id if order is not None else record.order_id,
    }
