"""The BillRun sub-application, mounted at ``/paymentgateways`` by the receiver's app."""

from __future__ import annotations

from aiohttp import web

from receiver.billrun.answers import errors_middleware
from receiver.billrun.get_request import get_request
from receiver.billrun.ok_page import ok_page
from receiver.billrun.urls import GET_REQUEST, OK_PAGE, PREFIX, disabled_reason, redirect_hosts
from shared.logging import get_logger
from shared.settings import Settings

log = get_logger("receiver.billrun")


def create_billrun_app(settings: Settings) -> web.Application:
    """getRequest and okPage behind one error middleware; answering 503 without the settings they need."""
    reason = disabled_reason(settings)
    app = web.Application(middlewares=[errors_middleware(reason)])
    for path, handler in ((GET_REQUEST, get_request), (OK_PAGE, ok_page)):
        app.router.add_get(path, handler, allow_head=False)
        app.router.add_post(path, handler)

    async def log_configuration(_app: web.Application) -> None:
        if reason is not None:
            log.warning("billrun_disabled", reason=reason, answer="503 on " + PREFIX + "/*")
        else:
            log.info("billrun_enabled", public_url=settings.public_url, redirect_hosts=list(redirect_hosts(settings)),
                     shared_secrets=len(settings.billrun.shared_secrets))

    app.on_startup.append(log_configuration)
    return app


def add_billrun(app: web.Application, settings: Settings) -> None:
    app.add_subapp(PREFIX, create_billrun_app(settings))
