"""URL map of the receiver's public port (``/metrics`` is on its own port: receiver.metrics_server)."""

from __future__ import annotations

from aiohttp import web

from receiver.billrun import GET_REQUEST_PATH, OK_PAGE_PATH, get_request, ok_page
from receiver.health import healthz, readyz
from receiver.notify import notify

NOTIFY_PATH = "/stripay/notify"


def setup_routes(app: web.Application) -> None:
    app.router.add_post(NOTIFY_PATH, notify)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get(GET_REQUEST_PATH, get_request, allow_head=False)
    app.router.add_get(OK_PAGE_PATH, ok_page, allow_head=False)
    app.router.add_post(OK_PAGE_PATH, ok_page)
