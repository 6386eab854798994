"""The ``/_sim/`` control API, JSON in and out, for tests and demos. Never faulted.

=========================================  =====================================================
``POST /_sim/orders``                      create an order (every field optional; ``merchantId``
                                           picks one of the configured merchants) -> order
``GET /_sim/orders/{id}``                  -> order
``POST /_sim/orders/{id}/status``          ``{"status", "statusNote"?}`` drive it -> order
``GET|POST|DELETE /_sim/faults``           list / set one rule / clear all -> ``{"faults": [...]}``
``GET|POST /_sim/notify-mode``             ``{"mode", "copies"?}`` -> mode state
``POST /_sim/notify-mode/release``         send held (out_of_order) notifications -> ``{"released", ...}``
``GET|DELETE /_sim/deliveries``            the delivery log (``?order_id=`` filters) -> ``{"deliveries": [...]}``
``GET|POST /_sim/updated-at``              ``{"mode": strict|whole_seconds|same}``: how changes date
                                           ``updatedAt`` (see :mod:`simulator.orders`) -> mode
``POST /_sim/reset``                       clear orders, faults, notify and updatedAt modes, log -> ``{"reset": true}``
=========================================  =====================================================

Orders here are the API's order object plus ``notifyUrl``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from simulator.appkeys import CONFIG, FAULTS, NOTIFIER, STORE
from simulator.bodies import read_json_object
from simulator.errors import ApiError
from simulator.faults import parse_fault
from simulator.notifier import parse_notify_mode
from simulator.orders import Order
from simulator.validation import ValidationError, parse_order_id, parse_status_change, validate_sim_order


def control_view(order: Order) -> dict[str, Any]:
    return {**order.to_api(), "notifyUrl": order.notify_url}


def _order_or_404(request: web.Request) -> Order:
    order = request.app[STORE].get(int(request.match_info["order_id"]))
    if order is None:
        raise ApiError(404, "order not found")
    return order


async def create_order(request: web.Request) -> web.Response:
    """Create an order (pending), then drive it to ``status`` when one is given (which notifies)."""
    body = await read_json_object(request, empty_means_empty_object=True)
    store = request.app[STORE]
    new_order, target_status, status_note = validate_sim_order(body, f"sim-{store.next_id}")
    order = store.create(new_order, _merchant_of(request, body))
    if target_status != "pending":
        order = store.set_status(order.id, target_status, status_note)
    return web.json_response(control_view(order), status=201)


def _merchant_of(request: web.Request, body: dict[str, Any]) -> int:
    """The configured merchant an order is created for (the first one by default)."""
    config = request.app[CONFIG]
    if "merchantId" not in body or body["merchantId"] is None:
        return config.merchant_id
    merchant_id = body["merchantId"]
    known = [known_id for known_id, _ in config.merchants]
    if isinstance(merchant_id, bool) or merchant_id not in known:
        raise ValidationError("merchantId", f"merchantId must be one of {', '.join(map(str, known))}")
    return int(merchant_id)


async def show_updated_at_mode(request: web.Request) -> web.Response:
    return web.json_response({"mode": request.app[STORE].updated_at_mode})


async def set_updated_at_mode(request: web.Request) -> web.Response:
    body = await read_json_object(request, empty_means_empty_object=True)
    try:
        request.app[STORE].set_updated_at_mode(body.get("mode"))
    except ValueError as err:
        raise ValidationError("mode", str(err)) from None
    return web.json_response({"mode": request.app[STORE].updated_at_mode})


async def show_order(request: web.Request) -> web.Response:
    return web.json_response(control_view(_order_or_404(request)))


async def set_order_status(request: web.Request) -> web.Response:
    body = await read_json_object(request, empty_means_empty_object=True)
    order = _order_or_404(request)
    new_status, status_note = parse_status_change(body)
    return web.json_response(control_view(request.app[STORE].set_status(order.id, new_status, status_note)))


def _faults_json(request: web.Request) -> web.Response:
    return web.json_response({"faults": [rule.to_json() for rule in request.app[FAULTS].rules()]})


async def list_faults(request: web.Request) -> web.Response:
    return _faults_json(request)


async def set_fault(request: web.Request) -> web.Response:
    body = await read_json_object(request, empty_means_empty_object=True)
    request.app[FAULTS].set(parse_fault(body, request.app[CONFIG].random_seed))
    return _faults_json(request)


async def clear_faults(request: web.Request) -> web.Response:
    request.app[FAULTS].clear()
    return _faults_json(request)


async def show_notify_mode(request: web.Request) -> web.Response:
    return web.json_response(request.app[NOTIFIER].state())


async def set_notify_mode(request: web.Request) -> web.Response:
    body = await read_json_object(request, empty_means_empty_object=True)
    notifier = request.app[NOTIFIER]
    notifier.set_mode(parse_notify_mode(body))
    return web.json_response(notifier.state())


async def release_held(request: web.Request) -> web.Response:
    notifier = request.app[NOTIFIER]
    released = notifier.release()
    return web.json_response({"released": released, **notifier.state()})


async def list_deliveries(request: web.Request) -> web.Response:
    raw_order_id = request.query.get("order_id")
    only = None if raw_order_id is None else parse_order_id(raw_order_id, "order_id")
    return web.json_response({"deliveries": request.app[NOTIFIER].deliveries(only)})


async def clear_deliveries(request: web.Request) -> web.Response:
    request.app[NOTIFIER].clear_log()
    return web.json_response({"deliveries": []})


async def reset(request: web.Request) -> web.Response:
    request.app[STORE].clear()
    request.app[FAULTS].clear()
    await request.app[NOTIFIER].reset()
    return web.json_response({"reset": True})
