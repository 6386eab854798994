"""A Stripay simulator running in a background thread, for sync and async tests.

    with SimulatorThread(key=MERCHANT_KEY, time_scale=10_000) as sim:
        order = sim.create_order(notifyUrl=receiver_url)
        sim.set_status(order["id"], "completed")
        [attempt] = sim.wait_for_deliveries(1)

The simulator has its own thread and event loop, so it keeps serving while a
sync test blocks. Every control method blocks too: in an async test whose
event loop also serves the receiver being notified, wait with
``await asyncio.to_thread(sim.wait_for_deliveries, n)`` so that loop can answer.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from aiohttp import web

from simulator.app import create_app
from simulator.client import ControlClient
from simulator.config import SimulatorConfig

START_TIMEOUT_S = 10.0
SHUTDOWN_TIMEOUT_S = 2.0


class SimulatorThread:
    """The simulator app on a free port of 127.0.0.1, with blocking control methods."""

    def __init__(self, key: str, time_scale: float = 1.0, **config_overrides: Any) -> None:
        """``config_overrides``: further :class:`SimulatorConfig` fields (say ``max_log_entries``)."""
        self.key = key
        self.config = SimulatorConfig(merchant_key=key, time_scale=time_scale, **config_overrides)
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="stripay-simulator", daemon=True)
        self._client: ControlClient | None = None

    def start(self) -> "SimulatorThread":
        self._thread.start()
        try:
            port = asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(START_TIMEOUT_S)
        except BaseException:
            self.stop()
            raise
        self.url = f"http://127.0.0.1:{port}"
        self._client = ControlClient(self.url)
        return self

    async def _serve(self) -> int:
        self._runner = web.AppRunner(create_app(self.config), shutdown_timeout=SHUTDOWN_TIMEOUT_S)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        return int(self._runner.addresses[0][1])

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(START_TIMEOUT_S)
            self._runner = None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(START_TIMEOUT_S)
        if not self._loop.is_running():
            self._loop.close()

    def __enter__(self) -> "SimulatorThread":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def client(self) -> ControlClient:
        if self._client is None:
            raise RuntimeError("the simulator is not started")
        return self._client

    def create_order(self, **fields: Any) -> dict[str, Any]:
        return self.client.create_order(**fields)

    def set_status(self, order_id: int, status: str, status_note: str | None = None) -> dict[str, Any]:
        return self.client.set_status(order_id, status, status_note)

    def order(self, order_id: int) -> dict[str, Any]:
        return self.client.order(order_id)

    def set_fault(
        self,
        endpoint: str = "*",
        latency_s: float = 0.0,
        error_rate: float = 0.0,
        timeout: bool = False,
        status: int | None = None,
    ) -> None:
        self.client.set_fault(endpoint, latency_s, error_rate, timeout, status)

    def clear_faults(self) -> None:
        self.client.clear_faults()

    def set_notify_mode(self, mode: str, copies: int = 2) -> None:
        self.client.set_notify_mode(mode, copies)

    def release(self) -> int:
        return self.client.release()

    def deliveries(self) -> list[dict[str, Any]]:
        return self.client.deliveries()

    def wait_for_deliveries(self, n: int, timeout_s: float = 10) -> list[dict[str, Any]]:
        return self.client.wait_for_deliveries(n, timeout_s)

    def set_updated_at_mode(self, mode: str) -> None:
        self.client.set_updated_at_mode(mode)

    def reset(self) -> None:
        self.client.reset()

    def notify_state(self) -> dict[str, Any]:
        """The notifier's mode, held and in-flight counts (``GET /_sim/notify-mode``)."""
        return self.client.notify_state()
