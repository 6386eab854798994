"""``GET`` or ``POST /paymentgateways/okPage?txId=...``: the customer's return, confirmed with Stripay.

The txId must be one getRequest issued (else 404, and nothing written, no Stripay call).
Stripay's order is asked for at most once per ``BILLRUN_LOOKUP_INTERVAL_S`` per txId (the
first return always asks); what it answers is applied through the one path every signal
takes (history source ``return``), forwards only. In between, okPage answers from the stored
state. A txId never reports success unless Stripay's order for it is completed and matches
what getRequest asked for.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from receiver.appkeys import ORDER_STORE, REDIS, SETTINGS
from receiver.billrun.answers import answer, redirect
from receiver.billrun.orders import mismatch, page_view, return_timeout_s, stripay
from receiver.billrun.params import BadRequest, valid_tx_id
from receiver.billrun.store import BillrunStore, TxRecord
from receiver.billrun.urls import with_query
from shared.jobs import enqueue_reconcile_async
from shared.logging import get_logger
from shared.order import Order, OrderFormatError
from shared.order_apply import apply_verified_async
from shared.stripay_client import ApiRejected, ApiUnavailable
from shared.stripay_pay import OrderNotFound

log = get_logger("receiver.billrun")

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def _return_fields(request: web.Request) -> dict[str, Any]:
    """txId and redirect from the query, else from a POSTed form or JSON body."""
    fields: dict[str, Any] = {name: request.query[name] for name in ("txId", "redirect") if name in request.query}
    if request.method != "POST":
        return fields
    try:
        if request.content_type in FORM_TYPES:
            body: Any = dict(await request.post())
        else:
            raw = await request.read()
            body = json.loads(raw) if raw.strip() else {}
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise BadRequest("body cannot be read") from None
    except web.HTTPRequestEntityTooLarge:
        raise BadRequest("body too large") from None
    if isinstance(body, dict):
        for name in ("txId", "redirect"):
            if name not in fields and name in body:
                fields[name] = body[name]
    return fields


def wants_redirect(request: web.Request, fields: dict[str, Any]) -> bool:
    """A browser is redirected; BillRun's ``redirect=0`` or ``Accept: application/json`` gets JSON."""
    if str(fields.get("redirect", "")) in ("0", "false"):
        return False
    accept = request.headers.get("Accept", "")
    return "text/html" in accept and "application/json" not in accept


class Return:
    """One okPage call: its txId record and how to answer."""

    def __init__(self, request: web.Request, record: TxRecord, browser: bool) -> None:
        self.request = request
        self.record = record
        self.browser = browser

    def failed(self, http_status: int, desc: str, token: str, details: Any = None) -> web.Response:
        if self.browser:
            return redirect(with_query(self.record.fail_page, txId=self.record.tx_id, status=token))
        return answer(http_status, 0, desc, details)

    def verdict(self, order: Order) -> web.Response:
        """The answer for Stripay's order (fresh, or as stored): success only if completed and matching."""
        record = self.record
        problem = mismatch(record, order)
        if problem is not None:
            return self.failed(409, f"order does not match the transaction ({problem})", "mismatch",
                               {"txId": record.tx_id})
        if order.status != "completed":
            return self.failed(200, order.status, order.status, page_view(record, order))
        if self.browser:
            return redirect(with_query(record.ok_page, txId=record.tx_id, status=order.status))
        return answer(200, 1, "success", page_view(record, order))

    def pending(self) -> web.Response:
        return self.failed(202, "pending", "pending", page_view(self.record))


async def _pending(ret: Return, store: BillrunStore, received_at: float, error: str) -> web.Response:
    """Stripay did not answer in time: nothing is reported as success; a job fetches the order later."""
    config = ret.request.config_dict
    record = ret.record
    job_id = None
    if record.order_id is not None and await store.claim_requeue(record.tx_id):
        job_id = await enqueue_reconcile_async(config[REDIS], config[SETTINGS],
                                               {"id": record.order_id, "merchantOrderId": record.tx_id}, "return",
                                               received_at=received_at)
    log.warning("billrun_ok_page", outcome="pending", tx_id=record.tx_id, order_id=record.order_id, job_id=job_id,
                error=error)
    return ret.pending()


async def _stored(ret: Return) -> web.Response:
    """Answer from the stored state (a lookup of this txId happened less than the interval ago)."""
    record = ret.record
    state = None
    if record.order_id is not None:
        state = await ret.request.config_dict[ORDER_STORE].state(record.order_id)
    try:
        order = Order.from_api(state) if state is not None else None
    except OrderFormatError:
        order = None
    log.info("billrun_ok_page", outcome="stored", tx_id=record.tx_id, order_id=record.order_id,
             status=order.status if order else None)
    return ret.verdict(order) if order is not None else ret.pending()


async def ok_page(request: web.Request) -> web.Response:
    received_at = time.time()
    config = request.config_dict
    fields = await _return_fields(request)
    tx_id = valid_tx_id(fields.get("txId"))
    store = BillrunStore(config[REDIS])
    record = await store.get(tx_id)
    if record is None:
        log.info("billrun_ok_page", outcome="unknown", tx_id=tx_id)
        return answer(404, 0, "unknown txId")
    ret = Return(request, record, wants_redirect(request, fields))
    if not await store.claim_lookup(tx_id, config[SETTINGS].billrun.lookup_interval_s):
        return await _stored(ret)

    try:
        order = await stripay(config).order(return_timeout_s(config[SETTINGS]), merchant_order_id=tx_id)
    except ApiUnavailable as err:
        return await _pending(ret, store, received_at, str(err))
    except OrderNotFound:
        log.info("billrun_ok_page", outcome="not_found", tx_id=tx_id)
        return ret.failed(404, "order not found at Stripay", "not_found")
    except ApiRejected as err:
        log.warning("billrun_ok_page", outcome="upstream_error", tx_id=tx_id, error=str(err))
        return ret.failed(502, f"Stripay rejected the lookup: {err}", "error")

    # Stripay's answer is the truth of this order: applied forwards-only, like every signal.
    result = await apply_verified_async(config[ORDER_STORE], config[SETTINGS], order, "return", received_at)
    if record.order_id is None and order.fields.get("merchantOrderId") == tx_id:
        await store.set_order_id(tx_id, order.id)
    log.info("billrun_ok_page", outcome="verified", tx_id=tx_id, order_id=order.id, status=order.status,
             store=result.outcome, mismatch=mismatch(record, order))
    return ret.verdict(order)
