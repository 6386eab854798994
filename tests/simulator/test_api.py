"""The /v1 API over HTTP: pay outcomes, the hosted page, orders and their errors."""

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from simulator.app import create_app
from simulator.config import SimulatorConfig
from tests.simulator.helpers import create_order, set_status
from tests.support.payloads import MERCHANT_KEY

ORDER_FIELDS = {
    "id", "merchantId", "merchantOrderId", "amount", "currency", "successUrl", "failUrl", "email", "ip",
    "riskScore", "status", "statusNote", "is3ds", "createdAt", "updatedAt",
}
ISO_MS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
SUCCESS_URL = "https://shop.example/success"
FAIL_URL = "https://shop.example/fail"


def pay_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": MERCHANT_KEY,
        "merchantOrderId": "order-1",
        "amount": 0.99,
        "successUrl": SUCCESS_URL,
        "failUrl": FAIL_URL,
        "ip": "38.94.109.229",
        "email": "buyer@example.com",
        "phone": "+12025550123",
        "goods": [{"sku": "1", "title": "test", "quantity": "1", "amount": "0.99"}],
        "cardNumber": "4242424242424242",
        "cardExpYear": "2028",
        "cardExpMonth": "08",
        "cardCvc": "888",
    }
    body.update(changes)
    return body


async def order_of(sim: TestClient, order_id: int | str) -> dict[str, Any]:
    response = await sim.post("/v1/order", json={"key": MERCHANT_KEY, "orderId": order_id})
    assert response.status == 200
    return dict((await response.json())["order"])


async def assert_error(response: Any, http_status: int, code: str, field: str | None = None) -> str:
    assert response.status == http_status
    assert response.content_type == "application/json"
    error = (await response.json())["error"]
    assert (error["code"], error["field"]) == (code, field)
    return str(error["message"])


async def test_success_card_completes_the_order(sim: TestClient) -> None:
    response = await sim.post("/v1/direct/pay", json=pay_body())
    assert response.status == 200
    assert await response.json() == {"status": "success", "statusNote": None, "redirectUrl": SUCCESS_URL}
    order = await order_of(sim, 1)
    assert (order["status"], order["is3ds"], order["merchantOrderId"]) == ("completed", False, "order-1")


async def test_decline_card_rejects_the_order(sim: TestClient) -> None:
    response = await sim.post("/v1/direct/pay", json=pay_body(cardNumber="4000000000000002"))
    assert await response.json() == {"status": "fail", "statusNote": "Your card was declined.", "redirectUrl": FAIL_URL}
    order = await order_of(sim, 1)
    assert (order["status"], order["statusNote"]) == ("rejected", "Your card was declined.")


async def test_unknown_card_is_declined(sim: TestClient) -> None:
    response = await sim.post("/v1/direct/pay", json=pay_body(cardNumber="4111111111111111"))
    assert (await response.json())["status"] == "fail"
    assert (await order_of(sim, 1))["status"] == "rejected"


async def test_3ds_card_leaves_the_order_pending_behind_the_hosted_page(sim: TestClient) -> None:
    response = await sim.post("/v1/direct/pay", json=pay_body(cardNumber="4000000000003220"))
    answer = await response.json()
    assert (answer["status"], answer["statusNote"]) == ("3ds", None)
    assert answer["redirectUrl"] == str(sim.make_url("/_sim/checkout/1"))
    order = await order_of(sim, 1)
    assert (order["status"], order["is3ds"]) == ("pending", True)

    page = await sim.get("/_sim/checkout/1", params={"outcome": "success"}, allow_redirects=False)
    assert (page.status, page.headers["Location"]) == (302, SUCCESS_URL)
    assert (await order_of(sim, 1))["status"] == "completed"


async def test_force3ds_sends_a_good_card_through_3ds(sim: TestClient) -> None:
    response = await sim.post("/v1/direct/pay", json=pay_body(force3ds=True))
    assert (await response.json())["status"] == "3ds"
    assert (await order_of(sim, 1))["status"] == "pending"


@pytest.mark.parametrize("kind", ["inline", "checkout", "paypal"])
async def test_hosted_kinds_answer_3ds_and_the_page_decides(sim: TestClient, kind: str) -> None:
    response = await sim.post(f"/v1/{kind}/pay", json=pay_body(cardNumber=None))
    answer = await response.json()
    assert answer == {"status": "3ds", "statusNote": None, "redirectUrl": str(sim.make_url("/_sim/checkout/1"))}
    assert (await order_of(sim, 1))["status"] == "pending"

    page = await sim.post("/_sim/checkout/1?outcome=fail", allow_redirects=False)
    assert (page.status, page.headers["Location"]) == (302, FAIL_URL)
    order = await order_of(sim, 1)
    assert (order["status"], order["statusNote"]) == ("rejected", "Payment failed on the checkout page")


async def test_checkout_page_without_outcome_shows_the_choice(sim: TestClient) -> None:
    await create_order(sim, amount=12.5)
    page = await sim.get("/_sim/checkout/1")
    assert (page.status, page.content_type) == (200, "text/html")
    assert "?outcome=success" in await page.text()


async def test_checkout_page_refuses_an_order_that_is_not_pending(sim: TestClient) -> None:
    await create_order(sim, status="completed")
    await assert_error(await sim.get("/_sim/checkout/1?outcome=fail", allow_redirects=False), 409, "conflict")


async def test_checkout_page_refuses_an_unknown_outcome(sim: TestClient) -> None:
    await create_order(sim)
    await assert_error(await sim.get("/_sim/checkout/1?outcome=maybe"), 400, "bad_request", "outcome")


async def test_checkout_page_of_an_unknown_order_is_404(sim: TestClient) -> None:
    await assert_error(await sim.get("/_sim/checkout/9"), 404, "not_found")


ENDPOINTS = ["/v1/direct/pay", "/v1/inline/pay", "/v1/checkout/pay", "/v1/paypal/pay", "/v1/orders", "/v1/order"]


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_wrong_key_is_401(sim: TestClient, path: str) -> None:
    response = await sim.post(path, json=pay_body(key="not-the-key", orderId=1))
    assert await assert_error(response, 401, "unauthorized", "key") == "invalid key"


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_missing_key_is_401(sim: TestClient, path: str) -> None:
    response = await sim.post(path, json=pay_body(key=None, orderId=1))
    assert await assert_error(response, 401, "unauthorized", "key") == "missing key"


async def test_the_first_key_of_the_list_is_the_one_accepted(aiohttp_client: Any) -> None:
    sim = await aiohttp_client(create_app(SimulatorConfig(merchant_key="current")))
    assert (await sim.post("/v1/orders", json={"key": "current"})).status == 200
    assert (await sim.post("/v1/orders", json={"key": MERCHANT_KEY})).status == 401


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b""])
async def test_body_that_is_not_a_json_object_is_400(sim: TestClient, raw: bytes) -> None:
    response = await sim.post("/v1/orders", data=raw, headers={"Content-Type": "application/json"})
    assert await assert_error(response, 400, "bad_request") == "body must be a JSON object"


async def test_invalid_pay_field_is_400_and_creates_nothing(sim: TestClient) -> None:
    response = await sim.post("/v1/checkout/pay", json=pay_body(amount=1.234))
    assert await assert_error(response, 400, "bad_request", "amount") == "amount must have at most 2 decimals"
    assert (await (await sim.post("/v1/orders", json={"key": MERCHANT_KEY})).json())["total"] == 0


async def test_orders_are_paged(sim: TestClient) -> None:
    for _ in range(45):
        await create_order(sim)
    response = await sim.post("/v1/orders", json={"key": MERCHANT_KEY, "page": 3, "limit": 20})
    listing = await response.json()
    assert listing["total"] == 45
    assert [order["id"] for order in listing["orders"]] == [41, 42, 43, 44, 45]
    first = await (await sim.post("/v1/orders", json={"key": MERCHANT_KEY})).json()
    assert [order["id"] for order in first["orders"]] == list(range(1, 21))


@pytest.mark.parametrize(("page", "limit", "field"), [(1, 19, "limit"), (1, 101, "limit"), (0, 20, "page")])
async def test_orders_paging_bounds_are_400(sim: TestClient, page: int, limit: int, field: str) -> None:
    response = await sim.post("/v1/orders", json={"key": MERCHANT_KEY, "page": page, "limit": limit})
    await assert_error(response, 400, "bad_request", field)


async def test_order_object_has_every_documented_field(sim: TestClient) -> None:
    await sim.post("/v1/direct/pay", json=pay_body())
    order = await order_of(sim, "1")
    assert set(order) == ORDER_FIELDS
    assert ISO_MS.fullmatch(order["createdAt"]) and ISO_MS.fullmatch(order["updatedAt"])
    assert order["updatedAt"] > order["createdAt"]
    assert (order["merchantId"], order["amount"], order["currency"], order["riskScore"]) == (1, 0.99, "USD", 0)


async def test_order_by_merchant_order_id(sim: TestClient) -> None:
    await create_order(sim, merchantOrderId="shop-42")
    response = await sim.post("/v1/order", json={"key": MERCHANT_KEY, "merchantOrderId": "shop-42"})
    assert (await response.json())["order"]["id"] == 1


async def test_unknown_order_is_404(sim: TestClient) -> None:
    response = await sim.post("/v1/order", json={"key": MERCHANT_KEY, "orderId": 99})
    assert await assert_error(response, 404, "not_found") == "order not found"


async def test_order_lookup_without_ids_is_400(sim: TestClient) -> None:
    await assert_error(await sim.post("/v1/order", json={"key": MERCHANT_KEY}), 400, "bad_request", "orderId")


async def test_unknown_path_is_a_json_404(sim: TestClient) -> None:
    await assert_error(await sim.post("/v1/refund", json={}), 404, "not_found")


async def test_updated_at_strictly_advances_on_every_change(sim: TestClient) -> None:
    order = await create_order(sim)
    stamps = [order["updatedAt"]]
    for status in ("completed", "disputed", "completed", "refunded"):
        stamps.append((await set_status(sim, order["id"], status))["updatedAt"])
    assert stamps == sorted(set(stamps))  # strictly increasing, even within one millisecond


async def test_control_refuses_an_unknown_status(sim: TestClient) -> None:
    await create_order(sim)
    response = await sim.post("/_sim/orders/1/status", json={"status": "paid"})
    await assert_error(response, 400, "bad_request", "status")


async def test_control_status_of_an_unknown_order_is_404(sim: TestClient) -> None:
    await assert_error(await sim.post("/_sim/orders/5/status", json={"status": "completed"}), 404, "not_found")


async def test_control_order_shows_its_notify_url(sim: TestClient) -> None:
    await create_order(sim, notifyUrl="https://receiver.example/notify")
    shown = await (await sim.get("/_sim/orders/1")).json()
    assert shown["notifyUrl"] == "https://receiver.example/notify"
    assert set(shown) == ORDER_FIELDS | {"notifyUrl"}


OTHER_ID, OTHER_KEY = 2, "5f4dcc3b5aa765d61d8327deb882cf99"


@pytest.fixture
def two_merchants() -> SimulatorConfig:
    return SimulatorConfig(merchant_key=MERCHANT_KEY, other_merchants=((OTHER_ID, OTHER_KEY),))


async def test_each_key_sees_its_own_merchants_orders_only(aiohttp_client: Any, two_merchants) -> None:
    sim = await aiohttp_client(create_app(two_merchants))
    mine = await (await sim.post("/_sim/orders", json={"status": "completed"})).json()
    theirs = await (await sim.post("/_sim/orders", json={"merchantId": OTHER_ID, "status": "completed"})).json()
    assert (mine["merchantId"], theirs["merchantId"]) == (1, OTHER_ID)
    found = await sim.post("/v1/order", json={"key": OTHER_KEY, "orderId": theirs["id"]})
    assert (await found.json())["order"]["merchantId"] == OTHER_ID
    foreign = await sim.post("/v1/order", json={"key": OTHER_KEY, "orderId": mine["id"]})
    assert foreign.status == 404
    listing = await (await sim.post("/v1/orders", json={"key": OTHER_KEY, "page": 1, "limit": 20})).json()
    assert [order["id"] for order in listing["orders"]] == [theirs["id"]]


async def test_an_order_for_an_unknown_merchant_is_refused(aiohttp_client: Any, two_merchants) -> None:
    sim = await aiohttp_client(create_app(two_merchants))
    response = await sim.post("/_sim/orders", json={"merchantId": 99})
    assert response.status == 400
    assert "merchantId" in (await response.text())


async def test_updated_at_switch_is_strict_by_default_and_set_through_the_control_api(sim: TestClient) -> None:
    assert (await (await sim.get("/_sim/updated-at")).json()) == {"mode": "strict"}
    assert (await (await sim.post("/_sim/updated-at", json={"mode": "same"})).json()) == {"mode": "same"}
    order = await (await sim.post("/_sim/orders", json={"status": "completed"})).json()
    refunded = await (await sim.post(f"/_sim/orders/{order['id']}/status", json={"status": "refunded"})).json()
    assert refunded["updatedAt"] == order["updatedAt"]
    assert (await sim.post("/_sim/updated-at", json={"mode": "never"})).status == 400
    await sim.post("/_sim/reset")
    assert (await (await sim.get("/_sim/updated-at")).json()) == {"mode": "strict"}
