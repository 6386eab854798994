"""Notifications: what is sent and signed, the retry schedule, the notify modes."""

import asyncio
import json
from datetime import datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from shared.signature import SignatureError, verify
from simulator.app import create_app
from simulator.config import SimulatorConfig
from simulator.notifier import notification_payload
from tests.simulator.helpers import (
    FAST,
    create_order,
    deliveries,
    eventually,
    set_status,
    wait_for_deliveries,
    wait_until_idle,
)
from tests.simulator.receivers import Recorder
from tests.support.payloads import MERCHANT_KEY, load_vectors

VECTORS = {vector["name"]: vector for vector in load_vectors()}


async def serve(aiohttp_server: Any, recorder: Recorder) -> str:
    server: TestServer = await aiohttp_server(recorder.app())
    return str(server.make_url("/notify"))


def epoch_ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


@pytest.mark.parametrize("vector", load_vectors(), ids=lambda vector: vector["name"])
def test_signing_reproduces_the_reference_vectors(vector: dict[str, Any]) -> None:
    order = {name: value for name, value in json.loads(vector["body"]).items() if name != "sign"}
    assert notification_payload(order, vector["key"])["sign"] == vector["expected_sign"]


class SteppedClock:
    def __init__(self) -> None:
        self.now_ms = 0

    def __call__(self) -> int:
        return self.now_ms


@pytest.mark.parametrize(
    "name", ["seed example (completed)", "rejected with statusNote", 'true is "true"', "unicode merchantOrderId"]
)
async def test_notification_of_a_driven_order_is_the_reference_vector(
    aiohttp_client: Any, aiohttp_server: Any, config: SimulatorConfig, name: str
) -> None:
    expected = json.loads(VECTORS[name]["body"])
    clock = SteppedClock()
    sim = await aiohttp_client(create_app(config, clock_ms=clock))
    recorder = Recorder()
    clock.now_ms = epoch_ms(expected["createdAt"])
    order = await create_order(
        sim,
        notifyUrl=await serve(aiohttp_server, recorder),
        **{field: expected[field] for field in (
            "merchantOrderId", "amount", "currency", "successUrl", "failUrl", "email", "ip", "riskScore", "is3ds"
        )},
    )
    clock.now_ms = epoch_ms(expected["updatedAt"])
    await set_status(sim, order["id"], expected["status"], expected["statusNote"])
    await wait_for_deliveries(sim, 1)
    assert recorder.bodies == [expected]
    assert recorder.bodies[0]["sign"] == VECTORS[name]["expected_sign"]


async def test_every_notification_verifies_with_the_merchant_key_only(sim: TestClient, aiohttp_server: Any) -> None:
    recorder = Recorder()
    order = await create_order(sim, notifyUrl=await serve(aiohttp_server, recorder))
    for status in ("completed", "disputed", "refunded"):
        await set_status(sim, order["id"], status)
    await wait_for_deliveries(sim, 3)
    assert sorted(body["status"] for body in recorder.bodies) == ["completed", "disputed", "refunded"]
    for body in recorder.bodies:
        verify(body, [MERCHANT_KEY])
        with pytest.raises(SignatureError):
            verify(body, ["another-merchant-key"])


async def test_pay_api_notifies_the_notify_url(sim: TestClient, aiohttp_server: Any) -> None:
    recorder = Recorder()
    notify_url = await serve(aiohttp_server, recorder)
    body = {
        "key": MERCHANT_KEY, "merchantOrderId": "shop-1", "amount": 5, "successUrl": "https://s.example/ok",
        "failUrl": "https://s.example/ko", "notifyUrl": notify_url, "ip": "10.0.0.1", "email": "a@b.example",
        "phone": "+1555", "goods": [{"sku": "1"}], "cardNumber": "4000000000000002", "cardExpYear": "2028",
        "cardExpMonth": "08", "cardCvc": "123",
    }
    assert (await (await sim.post("/v1/direct/pay", json=body)).json())["status"] == "fail"
    [attempt] = await wait_for_deliveries(sim, 1)
    assert (attempt["status"], attempt["ok"], attempt["http_status"], attempt["body"]) == ("rejected", True, 200, "OK")
    assert recorder.bodies[0]["statusNote"] == "Your card was declined."
    assert "notifyUrl" not in recorder.bodies[0]


async def test_pending_and_orders_without_notify_url_send_nothing(sim: TestClient, aiohttp_server: Any) -> None:
    recorder = Recorder()
    with_url = await create_order(sim, notifyUrl=await serve(aiohttp_server, recorder))
    without_url = await create_order(sim)
    await set_status(sim, without_url["id"], "completed")
    await set_status(sim, with_url["id"], "completed")
    await set_status(sim, with_url["id"], "pending")
    await wait_until_idle(sim)
    assert [entry["order_id"] for entry in await deliveries(sim)] == [with_url["id"]]
    assert [body["status"] for body in recorder.bodies] == ["completed"]


async def test_retries_follow_stripays_schedule_under_time_scaling(
    sim: TestClient, aiohttp_server: Any, config: SimulatorConfig
) -> None:
    recorder = Recorder(answers=[(500, "boom"), (200, "ok"), (503, "OK")])  # three failures, then OK
    order = await create_order(sim, notifyUrl=await serve(aiohttp_server, recorder), status="completed")
    await wait_until_idle(sim)
    log = await deliveries(sim, order["id"])
    assert [(entry["attempt"], entry["http_status"], entry["ok"]) for entry in log] == [
        (1, 500, False), (2, 200, False), (3, 503, False), (4, 200, True),
    ]
    assert [entry["body"] for entry in log] == ["boom", "ok", "OK", "OK"]
    expected_gaps_s = [600 / FAST, 1800 / FAST, 3600 / FAST]
    gaps_s = [later["sent_at"] - earlier["sent_at"] for earlier, later in zip(log, log[1:])]
    for gap_s, expected_s in zip(gaps_s, expected_gaps_s):
        assert expected_s * 0.9 <= gap_s <= expected_s + 2.0, (gaps_s, expected_gaps_s)
    assert len(recorder.bodies) == 4 and all(body == recorder.bodies[0] for body in recorder.bodies)


async def test_five_attempts_at_most(aiohttp_client: Any, aiohttp_server: Any) -> None:
    sim = await aiohttp_client(create_app(SimulatorConfig(merchant_key=MERCHANT_KEY, time_scale=100_000)))
    recorder = Recorder(answers=[(500, "down")] * 10)
    await create_order(sim, notifyUrl=await serve(aiohttp_server, recorder), status="completed")
    await wait_until_idle(sim)
    log = await deliveries(sim)
    assert [(entry["attempt"], entry["ok"]) for entry in log] == [(n, False) for n in range(1, 6)]
    gaps_s = [later["sent_at"] - earlier["sent_at"] for earlier, later in zip(log, log[1:])]
    assert gaps_s[3] >= 86400 / 100_000 * 0.9  # the one-day step is the longest by far
    assert len(recorder.bodies) == 5


async def test_unreachable_receiver_is_logged_and_retried(sim: TestClient) -> None:
    from shared.embedded_redis import free_port

    await create_order(sim, notifyUrl=f"http://127.0.0.1:{free_port()}/notify", status="completed")
    first, second = await wait_for_deliveries(sim, 2)
    assert (first["http_status"], first["ok"], second["attempt"]) == (None, False, 2)
    assert first["error"].startswith("ClientConnectorError")


async def test_hanging_receiver_times_out(aiohttp_client: Any, aiohttp_server: Any) -> None:
    config = SimulatorConfig(merchant_key=MERCHANT_KEY, time_scale=100_000, min_delivery_timeout_s=0.2)
    sim = await aiohttp_client(create_app(config))
    hold = asyncio.Event()
    try:
        await create_order(sim, notifyUrl=await serve(aiohttp_server, Recorder(hold=hold)), status="completed")
        [first] = await wait_for_deliveries(sim, 1)
        assert (first["error"], first["http_status"], first["ok"]) == ("timeout after 0.2 s", None, False)
    finally:
        hold.set()


async def test_slow_receiver_does_not_block_others(sim: TestClient, aiohttp_server: Any) -> None:
    hold = asyncio.Event()
    slow, fast = Recorder(hold=hold), Recorder()
    try:
        slow_order = await create_order(sim, notifyUrl=await serve(aiohttp_server, slow), status="completed")
        fast_order = await create_order(sim, notifyUrl=await serve(aiohttp_server, fast), status="completed")
        [delivered] = await wait_for_deliveries(sim, 1)
        assert (delivered["order_id"], delivered["ok"]) == (fast_order["id"], True)

        async def slow_has_the_request() -> bool:
            return len(slow.bodies) == 1

        await eventually(slow_has_the_request)
        assert len(await deliveries(sim)) == 1  # the slow receiver still sits on its request
    finally:
        hold.set()
    later = await wait_for_deliveries(sim, 2)
    assert (later[1]["order_id"], later[1]["ok"]) == (slow_order["id"], True)


async def test_duplicate_mode_sends_each_notification_copies_times(sim: TestClient, aiohttp_server: Any) -> None:
    recorder = Recorder()
    response = await sim.post("/_sim/notify-mode", json={"mode": "duplicate", "copies": 3})
    assert (await response.json())["mode"] == "duplicate"
    await create_order(sim, notifyUrl=await serve(aiohttp_server, recorder), status="completed")
    log = await wait_for_deliveries(sim, 3)
    assert sorted(entry["copy"] for entry in log) == [1, 2, 3]
    assert all(entry["ok"] and entry["attempt"] == 1 for entry in log)
    assert len(recorder.bodies) == 3 and all(body == recorder.bodies[0] for body in recorder.bodies)


async def test_out_of_order_mode_holds_then_sends_newest_first(sim: TestClient, aiohttp_server: Any) -> None:
    recorder = Recorder()
    await sim.post("/_sim/notify-mode", json={"mode": "out_of_order"})
    order = await create_order(sim, notifyUrl=await serve(aiohttp_server, recorder))
    await set_status(sim, order["id"], "completed")
    await set_status(sim, order["id"], "refunded")
    state = await (await sim.get("/_sim/notify-mode")).json()
    assert (state["held"], state["in_flight"]) == (2, 0)
    assert await deliveries(sim) == [] and recorder.bodies == []

    released = await (await sim.post("/_sim/notify-mode/release")).json()
    assert (released["released"], released["held"]) == (2, 0)
    await wait_for_deliveries(sim, 2)
    assert [body["status"] for body in recorder.bodies] == ["refunded", "completed"]
    assert recorder.bodies[0]["updatedAt"] > recorder.bodies[1]["updatedAt"]


async def test_drop_mode_sends_nothing(sim: TestClient, aiohttp_server: Any) -> None:
    recorder = Recorder()
    await sim.post("/_sim/notify-mode", json={"mode": "drop"})
    await create_order(sim, notifyUrl=await serve(aiohttp_server, recorder), status="completed")
    state = await (await sim.get("/_sim/notify-mode")).json()
    assert (state["dropped"], state["in_flight"], state["held"]) == (1, 0, 0)
    assert await deliveries(sim) == []
    assert recorder.bodies == []


async def test_bad_notify_mode_is_400(sim: TestClient) -> None:
    response = await sim.post("/_sim/notify-mode", json={"mode": "sideways"})
    assert response.status == 400
    assert (await response.json())["error"]["field"] == "mode"


async def test_delivery_log_can_be_cleared(sim: TestClient, aiohttp_server: Any) -> None:
    await create_order(sim, notifyUrl=await serve(aiohttp_server, Recorder()), status="completed")
    [entry] = await wait_for_deliveries(sim, 1)
    assert set(entry) >= {"order_id", "status", "attempt", "url", "sent_at", "http_status", "body", "ok", "error"}
    assert (await (await sim.delete("/_sim/deliveries")).json()) == {"deliveries": []}
    assert await deliveries(sim) == []


async def test_reset_forgets_orders_modes_and_log(sim: TestClient, aiohttp_server: Any) -> None:
    await create_order(sim, notifyUrl=await serve(aiohttp_server, Recorder()), status="completed")
    await wait_for_deliveries(sim, 1)
    await sim.post("/_sim/notify-mode", json={"mode": "drop"})
    assert (await sim.post("/_sim/reset")).status == 200
    assert await deliveries(sim) == []
    assert (await (await sim.get("/_sim/notify-mode")).json())["mode"] == "normal"
    assert (await sim.get("/_sim/orders/1")).status == 404
    assert (await create_order(sim))["id"] == 1


async def test_each_merchants_notifications_are_signed_with_its_own_key(aiohttp_client: Any, aiohttp_server: Any) -> None:
    other_key = "5f4dcc3b5aa765d61d8327deb882cf99"
    sim = await aiohttp_client(create_app(SimulatorConfig(merchant_key=MERCHANT_KEY, time_scale=FAST,
                                                          other_merchants=((2, other_key),))))
    recorder = Recorder()
    url = await serve(aiohttp_server, recorder)
    await create_order(sim, notifyUrl=url, status="completed")
    await create_order(sim, notifyUrl=url, merchantId=2, status="completed")
    await wait_for_deliveries(sim, 2)
    by_merchant = {body["merchantId"]: body for body in recorder.bodies}
    verify(by_merchant[1], [MERCHANT_KEY])
    verify(by_merchant[2], [other_key])
    with pytest.raises(SignatureError):
        verify(by_merchant[2], [MERCHANT_KEY])
