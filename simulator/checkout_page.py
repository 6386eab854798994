"""The hosted payment page that a ``3ds`` answer redirects to: ``/_sim/checkout/{orderId}``.

``GET`` without ``outcome`` shows a small page with two buttons. ``GET`` or
``POST`` with ``?outcome=success`` completes the pending order and redirects
(302) to its successUrl; ``?outcome=fail`` rejects it and redirects to its
failUrl, as a real hosted page would. An order that is no longer pending answers 409.
"""

from __future__ import annotations

from html import escape

from aiohttp import web

from simulator.appkeys import STORE
from simulator.errors import ApiError
from simulator.orders import Order

OUTCOMES = {"success": "completed", "fail": "rejected"}
FAIL_NOTE = "Payment failed on the checkout page"


def _page(order: Order) -> str:
    amount = escape(f"{order.amount} {order.currency}")
    return (
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Stripay simulator checkout</title></head>"
        f"<body><h1>Order {order.id}: {amount}</h1><p>Status: {escape(order.status)}</p>"
        "<form method=\"post\" action=\"?outcome=success\"><button>Pay (success)</button></form>"
        "<form method=\"post\" action=\"?outcome=fail\"><button>Fail payment</button></form>"
        "</body></html>"
    )


async def checkout(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    order = store.get(int(request.match_info["order_id"]))
    if order is None:
        raise ApiError(404, "order not found")
    outcome = request.query.get("outcome")
    if outcome is None and request.method == "GET":
        return web.Response(text=_page(order), content_type="text/html")
    if outcome not in OUTCOMES:
        raise ApiError(400, "outcome must be success or fail", field="outcome")
    if order.status != "pending":
        raise ApiError(409, f"order {order.id} is {order.status}, not pending")
    if outcome == "success":
        store.set_status(order.id, OUTCOMES[outcome])
        raise web.HTTPFound(order.success_url)
    store.set_status(order.id, OUTCOMES[outcome], FAIL_NOTE)
    raise web.HTTPFound(order.fail_url)
