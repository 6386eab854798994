"""The simulator in its own thread notifies the real receiver, which enqueues on a real Redis.

Shows how to use :class:`tests.support.simulator.SimulatorThread` from an async
test: the receiver runs in the test's event loop, so blocking waits on the
simulator go through ``asyncio.to_thread``.
"""

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from receiver.app import create_app
from shared.settings import Settings
from shared.signature import verify
from tests.support.payloads import MERCHANT_KEY
from tests.support.simulator import SimulatorThread

QUEUE = "rq:queue:stripay"


@pytest.fixture
def simulator() -> Iterator[SimulatorThread]:
    with SimulatorThread(key=MERCHANT_KEY, time_scale=10_000) as sim:
        yield sim


async def receiver_url(aiohttp_server: Any, settings: Settings) -> str:
    server = await aiohttp_server(create_app(settings))
    return str(server.make_url("/stripay/notify"))


async def test_real_receiver_acknowledges_and_enqueues_one_job(
    simulator: SimulatorThread, aiohttp_server: Any, settings: Settings, redis_client: redis.Redis
) -> None:
    order = simulator.create_order(notifyUrl=await receiver_url(aiohttp_server, settings), amount=1.99)
    simulator.set_status(order["id"], "completed")
    [attempt] = await asyncio.to_thread(simulator.wait_for_deliveries, 1)
    assert (attempt["http_status"], attempt["body"], attempt["ok"]) == (200, "OK", True)
    verify(attempt["payload"], [MERCHANT_KEY])
    assert redis_client.llen(QUEUE) == 1


async def test_duplicate_copies_still_make_one_job(
    simulator: SimulatorThread, aiohttp_server: Any, settings: Settings, redis_client: redis.Redis
) -> None:
    simulator.set_notify_mode("duplicate", copies=4)
    order = simulator.create_order(notifyUrl=await receiver_url(aiohttp_server, settings))
    simulator.set_status(order["id"], "completed")
    attempts = await asyncio.to_thread(simulator.wait_for_deliveries, 4)
    assert [entry["ok"] for entry in attempts] == [True] * 4
    assert redis_client.llen(QUEUE) == 1


async def test_each_status_change_is_its_own_job(
    simulator: SimulatorThread, aiohttp_server: Any, settings: Settings, redis_client: redis.Redis
) -> None:
    order = simulator.create_order(notifyUrl=await receiver_url(aiohttp_server, settings), status="completed")
    await asyncio.to_thread(simulator.wait_for_deliveries, 1)
    assert simulator.set_status(order["id"], "refunded")["status"] == "refunded"
    attempts = await asyncio.to_thread(simulator.wait_for_deliveries, 2)
    assert [(entry["status"], entry["ok"]) for entry in attempts] == [("completed", True), ("refunded", True)]
    assert redis_client.llen(QUEUE) == 2


async def test_receiver_with_another_key_refuses_and_the_simulator_retries(
    aiohttp_server: Any, settings: Settings, redis_client: redis.Redis
) -> None:
    with SimulatorThread(key="a-key-the-receiver-does-not-know", time_scale=100_000) as simulator:
        simulator.create_order(notifyUrl=await receiver_url(aiohttp_server, settings), status="completed")
        attempts = await asyncio.to_thread(simulator.wait_for_deliveries, 2)
    assert [(entry["attempt"], entry["http_status"], entry["ok"]) for entry in attempts[:2]] == [
        (1, 403, False), (2, 403, False),
    ]
    assert redis_client.llen(QUEUE) == 0
