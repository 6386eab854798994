"""Helpers of the simulator's async tests: waiting on the delivery log, driving orders."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient

# 10 000x: Stripay's retries come after 0.06, 0.18, 0.36 and 8.64 s.
FAST = 10_000.0


async def eventually(check: Callable[[], Awaitable[Any]], timeout_s: float = 10.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail with the last value after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        value = await check()
        if value:
            return value
        if loop.time() >= deadline:
            raise AssertionError(f"condition not met within {timeout_s} s (last value {value!r})")
        await asyncio.sleep(0.01)


async def deliveries(sim: TestClient, order_id: int | None = None) -> list[dict[str, Any]]:
    query = "" if order_id is None else f"?order_id={order_id}"
    response = await sim.get("/_sim/deliveries" + query)
    assert response.status == 200
    return list((await response.json())["deliveries"])


async def wait_for_deliveries(sim: TestClient, n: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    async def enough() -> list[dict[str, Any]]:
        seen = await deliveries(sim)
        return seen if len(seen) >= n else []

    return list(await eventually(enough, timeout_s))


async def wait_until_idle(sim: TestClient) -> dict[str, Any]:
    """The notify state once every retry schedule has ended."""

    async def idle() -> dict[str, Any] | None:
        state = await (await sim.get("/_sim/notify-mode")).json()
        return state if state["in_flight"] == 0 else None

    return dict(await eventually(idle))


async def create_order(sim: TestClient, **fields: Any) -> dict[str, Any]:
    response = await sim.post("/_sim/orders", json=fields)
    assert response.status == 201, await response.text()
    return dict(await response.json())


async def set_status(sim: TestClient, order_id: int, status: str, note: str | None = None) -> dict[str, Any]:
    response = await sim.post(f"/_sim/orders/{order_id}/status", json={"status": status, "statusNote": note})
    assert response.status == 200, await response.text()
    return dict(await response.json())
