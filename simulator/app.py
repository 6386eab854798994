"""The simulator's application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from simulator.appkeys import CONFIG, FAULTS, NOTIFIER, STORE
from simulator.config import SimulatorConfig
from simulator.errors import json_errors
from simulator.faults import FaultTable, fault_middleware
from simulator.notifier import Notifier
from simulator.orders import OrderStore, wall_clock_ms
from simulator.routes import setup_routes


async def _http_session_ctx(app: web.Application) -> AsyncIterator[None]:
    """The notifier's aiohttp ClientSession lives as long as the app; closing it stops deliveries."""
    await app[NOTIFIER].start()
    yield
    await app[NOTIFIER].close()


async def _end_injected_waits(app: web.Application) -> None:
    """Let hanging (fault-injected) requests finish so shutdown does not wait for them."""
    app[FAULTS].release_waits()


def create_app(config: SimulatorConfig, clock_ms: Callable[[], int] = wall_clock_ms) -> web.Application:
    """A Stripay simulator; ``clock_ms`` (epoch milliseconds) dates the orders."""
    faults = FaultTable()
    notifier = Notifier(config)
    app = web.Application(middlewares=[json_errors, fault_middleware(faults)])
    app[CONFIG] = config
    app[FAULTS] = faults
    app[NOTIFIER] = notifier
    app[STORE] = OrderStore(config.merchant_id, notifier.status_changed, clock_ms)
    app.cleanup_ctx.append(_http_session_ctx)
    app.on_shutdown.append(_end_injected_waits)
    setup_routes(app)
    return app
