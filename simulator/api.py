"""The Stripay API as documented: ``/v1/{direct,inline,checkout,paypal}/pay``, ``/v1/orders``, ``/v1/order``.

Every call carries the merchant ``key`` in its JSON body; a missing or wrong
key answers 401. The key says which merchant calls: order ids are counted
across all merchants, and a merchant sees its own orders only (another
merchant's order id answers 404, as an unknown one does). Pay answers ``{status: success|fail|3ds, statusNote, redirectUrl}``:

* direct pay charges the test card at once (see :mod:`simulator.cards`):
  ``success`` completes the order, ``fail`` rejects it, ``3ds`` leaves it
  pending behind the simulator's hosted page;
* inline, checkout and paypal pay always answer ``3ds`` with the hosted page
  ``/_sim/checkout/{orderId}``, and the order stays pending until that page is driven.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from aiohttp import web

from simulator.appkeys import CONFIG, STORE
from simulator.bodies import read_json_object
from simulator.cards import card_outcome
from simulator.config import SimulatorConfig
from simulator.errors import ApiError
from simulator.validation import validate_order_lookup, validate_page, validate_pay

CHECKOUT_PAGE = "/_sim/checkout/{order_id}"


def authorize(body: Mapping[str, Any], config: SimulatorConfig) -> int:
    """The merchantId whose key the body carries; 401 for a missing or unknown key."""
    key = body.get("key")
    if key is None or key == "":
        raise ApiError(401, "missing key", field="key")
    if isinstance(key, str):
        for merchant_id, merchant_key in config.merchants:
            if hmac.compare_digest(key.encode("utf-8"), merchant_key.encode("utf-8")):
                return merchant_id
    raise ApiError(401, "invalid key", field="key")


def pay_answer(status: str, status_note: str | None, redirect_url: str) -> web.Response:
    return web.json_response({"status": status, "statusNote": status_note, "redirectUrl": redirect_url})


def checkout_url(request: web.Request, order_id: int) -> str:
    return str(request.url.origin()) + CHECKOUT_PAGE.format(order_id=order_id)


def pay_handler(kind: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The handler of ``POST /v1/{kind}/pay``."""

    async def pay(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        merchant_id = authorize(body, request.app[CONFIG])
        pay_request = validate_pay(body, kind)
        store = request.app[STORE]
        if pay_request.card is None:
            order = store.create(pay_request.order, merchant_id)
            return pay_answer("3ds", None, checkout_url(request, order.id))
        outcome = card_outcome(pay_request.card.number, pay_request.force3ds)
        order = store.create(replace(pay_request.order, is3ds=outcome.kind == "3ds"), merchant_id)
        if outcome.kind == "success":
            store.set_status(order.id, "completed")
            return pay_answer("success", None, order.success_url)
        if outcome.kind == "fail":
            store.set_status(order.id, "rejected", outcome.status_note)
            return pay_answer("fail", outcome.status_note, order.fail_url)
        return pay_answer("3ds", None, checkout_url(request, order.id))

    return pay


async def list_orders(request: web.Request) -> web.Response:
    """``POST /v1/orders``: ``{total, orders}`` of one page of the caller's orders, oldest first."""
    body = await read_json_object(request)
    merchant_id = authorize(body, request.app[CONFIG])
    page, limit = validate_page(body)
    total, orders = request.app[STORE].page(page, limit, merchant_id)
    return web.json_response({"total": total, "orders": [order.to_api() for order in orders]})


async def get_order(request: web.Request) -> web.Response:
    """``POST /v1/order``: ``{order}`` by ``orderId`` or ``merchantOrderId``."""
    body = await read_json_object(request)
    merchant_id = authorize(body, request.app[CONFIG])
    lookup = validate_order_lookup(body)
    store = request.app[STORE]
    order = store.get(lookup) if isinstance(lookup, int) else store.by_merchant_order_id(lookup, merchant_id)
    if order is None or order.merchant_id != merchant_id:
        raise ApiError(404, "order not found")
    return web.json_response({"order": order.to_api()})
