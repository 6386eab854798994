"""Fault switches of the /v1 API; /_sim/* is never faulted."""

import asyncio
import random
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from tests.support.payloads import MERCHANT_KEY

ORDERS = {"key": MERCHANT_KEY}


async def set_fault(sim: TestClient, **rule: Any) -> dict[str, Any]:
    response = await sim.post("/_sim/faults", json=rule)
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def test_fixed_status_on_one_endpoint(sim: TestClient) -> None:
    await set_fault(sim, endpoint="/v1/order", status=503)
    response = await sim.post("/v1/order", json={**ORDERS, "orderId": 1})
    assert response.status == 503
    assert (await response.json())["error"]["code"] == "fault_injected"
    assert (await sim.post("/v1/orders", json=ORDERS)).status == 200


async def test_star_applies_to_every_api_endpoint_but_never_to_control(sim: TestClient) -> None:
    await set_fault(sim, endpoint="*", status=502)
    for path in ("/v1/orders", "/v1/order", "/v1/checkout/pay"):
        assert (await sim.post(path, json=ORDERS)).status == 502
    assert (await sim.post("/_sim/orders", json={})).status == 201
    assert (await sim.get("/_sim/checkout/1")).status == 200


async def test_exact_endpoint_rule_wins_over_star(sim: TestClient) -> None:
    await set_fault(sim, endpoint="*", status=502)
    await set_fault(sim, endpoint="/v1/orders", latency_s=0.0)
    assert (await sim.post("/v1/orders", json=ORDERS)).status == 200
    assert (await sim.post("/v1/order", json=ORDERS)).status == 502


async def test_error_rate_one_fails_every_call(sim: TestClient) -> None:
    await set_fault(sim, endpoint="/v1/orders", error_rate=1.0)
    statuses = [(await sim.post("/v1/orders", json=ORDERS)).status for _ in range(5)]
    assert statuses == [500] * 5


async def test_error_rate_is_seeded_and_repeatable(sim: TestClient) -> None:
    rng = random.Random(7)
    expected = [500 if rng.random() < 0.5 else 200 for _ in range(20)]
    assert 0 < expected.count(500) < 20
    for _ in range(2):  # setting the same rule again replays the same sequence
        await set_fault(sim, endpoint="/v1/orders", error_rate=0.5, seed=7)
        assert [(await sim.post("/v1/orders", json=ORDERS)).status for _ in range(20)] == expected


async def test_latency_delays_the_answer(sim: TestClient) -> None:
    await set_fault(sim, endpoint="/v1/orders", latency_s=0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await sim.post("/v1/orders", json=ORDERS)
    assert response.status == 200
    assert loop.time() - started >= 0.3


async def test_timeout_hangs_until_the_client_gives_up(sim: TestClient) -> None:
    await set_fault(sim, endpoint="/v1/order", timeout=True)
    with pytest.raises(asyncio.TimeoutError):
        await sim.post("/v1/order", json=ORDERS, timeout=aiohttp.ClientTimeout(total=0.3))
    assert (await sim.post("/v1/orders", json=ORDERS)).status == 200


async def test_clearing_faults_lets_a_hanging_request_through(sim: TestClient) -> None:
    await set_fault(sim, endpoint="*", timeout=True)
    hanging = asyncio.ensure_future(sim.post("/v1/orders", json=ORDERS))
    await asyncio.sleep(0.05)
    assert not hanging.done()
    assert await (await sim.delete("/_sim/faults")).json() == {"faults": []}
    assert (await hanging).status == 200  # let through to the API
    assert (await sim.post("/v1/orders", json=ORDERS)).status == 200


async def test_clearing_faults_cuts_a_latency_short(sim: TestClient) -> None:
    await set_fault(sim, endpoint="/v1/orders", latency_s=600.0)
    delayed = asyncio.ensure_future(sim.post("/v1/orders", json=ORDERS))
    await asyncio.sleep(0.05)
    assert not delayed.done()
    await sim.delete("/_sim/faults")
    assert (await delayed).status == 200


async def test_faults_are_listed(sim: TestClient) -> None:
    listed = await set_fault(sim, endpoint="/v1/order", error_rate=0.25)
    assert listed == {"faults": [{"endpoint": "/v1/order", "latency_s": 0.0, "error_rate": 0.25, "timeout": False,
                                  "status": None, "seed": 0}]}
    assert await (await sim.get("/_sim/faults")).json() == listed


@pytest.mark.parametrize(
    ("rule", "field"),
    [({"endpoint": "/_sim/orders"}, "endpoint"), ({"error_rate": 1.5}, "error_rate"), ({"latency_s": -1}, "latency_s"),
     ({"timeout": "yes"}, "timeout"), ({"status": 200}, "status")],
)
async def test_bad_fault_rule_is_400(sim: TestClient, rule: dict[str, Any], field: str) -> None:
    response = await sim.post("/_sim/faults", json=rule)
    assert response.status == 400
    assert (await response.json())["error"]["field"] == field


async def test_reset_clears_faults(sim: TestClient) -> None:
    await set_fault(sim, status=500)
    await sim.post("/_sim/reset")
    assert (await sim.post("/v1/orders", json=ORDERS)).status == 200
