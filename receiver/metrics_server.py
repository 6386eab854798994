"""The receiver's admin surface: ``/metrics`` on a port of its own, never on the public one.

The metrics application runs in the receiver's process and event loop, next to
the public application, and is started and stopped with it
(:func:`metrics_site`, a ``cleanup_ctx`` of the public application).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from receiver.health import metrics_endpoint

METRICS_PATH = "/metrics"


def create_metrics_app() -> web.Application:
    app = web.Application()
    app.router.add_get(METRICS_PATH, metrics_endpoint)
    return app


def metrics_site(host: str, port: int) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` entry that serves :func:`create_metrics_app` on ``host:port``
    while the application it is added to runs."""

    async def serve(app: web.Application) -> AsyncIterator[None]:
        runner = web.AppRunner(create_metrics_app(), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
            yield
        finally:
            await runner.cleanup()

    return serve
