"""URL map of the receiver's public port (``/metrics`` is on its own port: receiver.metrics_server)."""

from __future__ import annotations

from aiohttp import web

from receiver.billrun.app import add_billrun
from receiver.health import healthz, readyz
from receiver.notify import NOTIFY_PATH, notify
from shared.settings import Settings


def setup_routes(app: web.Application, settings: Settings) -> None:
    app.router.add_post(NOTIFY_PATH, notify)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    add_billrun(app, settings)  # /paymentgateways/*: a sub-application with its own error middleware
