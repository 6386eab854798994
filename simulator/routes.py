"""URL map of the simulator."""

from __future__ import annotations

from aiohttp import web

from simulator import api, control
from simulator.checkout_page import checkout
from simulator.validation import PAY_KINDS

ORDER = "/_sim/orders/{order_id:[0-9]{1,18}}"


def setup_routes(app: web.Application) -> None:
    for kind in PAY_KINDS:
        app.router.add_post(f"/v1/{kind}/pay", api.pay_handler(kind))
    app.router.add_post("/v1/orders", api.list_orders)
    app.router.add_post("/v1/order", api.get_order)

    app.router.add_get("/_sim/checkout/{order_id:[0-9]{1,18}}", checkout)
    app.router.add_post("/_sim/checkout/{order_id:[0-9]{1,18}}", checkout)
    app.router.add_post("/_sim/orders", control.create_order)
    app.router.add_get(ORDER, control.show_order)
    app.router.add_post(ORDER + "/status", control.set_order_status)
    app.router.add_get("/_sim/faults", control.list_faults)
    app.router.add_post("/_sim/faults", control.set_fault)
    app.router.add_delete("/_sim/faults", control.clear_faults)
    app.router.add_get("/_sim/notify-mode", control.show_notify_mode)
    app.router.add_post("/_sim/notify-mode", control.set_notify_mode)
    app.router.add_post("/_sim/notify-mode/release", control.release_held)
    app.router.add_get("/_sim/deliveries", control.list_deliveries)
    app.router.add_delete("/_sim/deliveries", control.clear_deliveries)
    app.router.add_get("/_sim/updated-at", control.show_updated_at_mode)
    app.router.add_post("/_sim/updated-at", control.set_updated_at_mode)
    app.router.add_post("/_sim/reset", control.reset)
