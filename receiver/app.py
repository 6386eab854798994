"""The receiver's application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
from aiohttp import web

from receiver.appkeys import ENQUEUER, HTTP_SESSION, ORDER_STORE, QUARANTINE, REDIS, SETTINGS
from receiver.body import body_deadline
from receiver.routes import setup_routes
from shared.notification_enqueuer import AsyncNotificationEnqueuer
from shared.logging import get_logger
from shared.order_store import AsyncOrderStore
from shared.quarantine import AsyncQuarantine
from shared.redis_client import async_client
from shared.settings import Settings

log = get_logger("receiver")


@web.middleware
async def never_500(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """An unexpected error answers 503 (Stripay retries), never a 500 or a traceback."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as err:  # noqa: BLE001 - the last line of defence
        log.exception("unhandled_error", path=request.path, error=type(err).__name__)
        return web.Response(status=503, text="temporarily unavailable", content_type="text/plain")


async def _redis_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if settings.redis_url is None:
        raise RuntimeError("REDIS_URL is required by the receiver")
    client = async_client(settings.redis_url)
    app[REDIS] = client
    app[ENQUEUER] = AsyncNotificationEnqueuer(settings)
    app[ORDER_STORE] = AsyncOrderStore(client)
    app[QUARANTINE] = AsyncQuarantine(client, settings.quarantine_max_len, settings.quarantine_ttl_s,
                                      settings.quarantine_max_bytes, settings.quarantine_writes_per_s)
    yield
    await app[ENQUEUER].close()
    await client.aclose()


async def _outbound_ctx(app: web.Application) -> AsyncIterator[None]:
    """The ClientSession for Stripay calls."""
    settings = app[SETTINGS]
    app[HTTP_SESSION] = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=settings.api_timeout_s))
    yield
    await app[HTTP_SESSION].close()


def create_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=settings.max_body_bytes,
                          middlewares=[body_deadline(settings.body_timeout_s), never_500])
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_redis_ctx)
    app.cleanup_ctx.append(_outbound_ctx)
    setup_routes(app, settings)
    return app
