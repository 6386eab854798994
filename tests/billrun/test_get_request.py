"""GET /paymentgateways/getRequest through the receiver app, against the simulator and a real Redis."""

import json
from dataclasses import replace

import pytest

from receiver.billrun.store import RECORD_TTL_S, record_key
from tests.billrun.helpers import (
    FAIL_PAGE_URL,
    GET_REQUEST,
    OK_PAGE_URL,
    api_view,
    get_request,
    signed_data,
    stripay_calls,
)


def billrun_keys(redis_client) -> list[bytes]:
    return list(redis_client.scan_iter("stripay:billrun:*"))


async def test_answers_the_hosted_checkout_page(client, sim) -> None:
    status, body = await get_request(client)
    assert status == 200
    assert body == {"status": 1, "desc": "success", "details": {"url": f"{sim.url}/_sim/checkout/1"}}


async def test_creates_the_stripay_order_pointing_back_at_this_service(client, sim) -> None:
    await get_request(client, email="buyer@billrun.example", phone="+15550100")
    order = sim.order(1)
    tx_id = order["merchantOrderId"]
    base = str(client.make_url("")).rstrip("/")
    assert len(tx_id) == 19 and tx_id.isdigit()
    assert order["successUrl"] == f"{base}/paymentgateways/okPage?txId={tx_id}"
    assert order["failUrl"] == f"{FAIL_PAGE_URL}&txId={tx_id}"
    assert order["notifyUrl"] == f"{base}/stripay/notify"
    assert (order["amount"], order["status"], order["email"], order["ip"]) == \
        (12.5, "pending", "buyer@billrun.example", "127.0.0.1")


async def test_public_url_is_used_for_the_return_and_notify_urls(start, billrun_settings, sim) -> None:
    client = await start(replace(billrun_settings, public_url="https://hooks.example"))
    await get_request(client)
    order = sim.order(1)
    assert order["successUrl"] == f"https://hooks.example/paymentgateways/okPage?txId={order['merchantOrderId']}"
    assert order["notifyUrl"] == "https://hooks.example/stripay/notify"


async def test_remembers_the_transaction_for_a_week(client, sim, redis_client) -> None:
    await get_request(client)
    order = sim.order(1)
    key = record_key(order["merchantOrderId"])
    stored = {k.decode(): v.decode() for k, v in redis_client.hgetall(key).items()}
    assert stored == {"ok_page": OK_PAGE_URL, "fail_page": FAIL_PAGE_URL, "aid": "1234", "amount": "12.5",
                      "order_id": "1", "created_at": stored["created_at"]}
    assert RECORD_TTL_S - 60 < redis_client.ttl(key) <= RECORD_TTL_S


async def test_request_parameters_add_the_txid_and_stripays_order(client, sim) -> None:
    status, body = await get_request(client, request_parameters=True)
    assert (status, body["status"], body["desc"]) == (200, 1, "success")
    order = api_view(sim.order(1))
    assert body["details"] == {"url": {"url": f"{sim.url}/_sim/checkout/1", "txId": order["merchantOrderId"],
                                       "order_id": 1, "order": order}}


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ({}, "data is required (a JSON object in the query)"),
        ({"data": "{not json"}, "data is not valid JSON"),
        ({"data": json.dumps(signed_data(ok_page=None))}, "ok_page is required"),
        ({"data": json.dumps(signed_data(amount=None))}, "amount is required"),
        ({"data": json.dumps(signed_data(amount=1.234))}, "amount must have at most 2 decimals"),
        ({"data": json.dumps(signed_data(name="PayPal"))}, "name must be StripeCheckout or Stripay"),
    ],
)
async def test_bad_input_is_refused_with_a_reason_and_creates_nothing(client, sim, redis_client, query,
                                                                     reason) -> None:
    before = stripay_calls("/v1/checkout/pay")
    response = await client.get(GET_REQUEST, params=query)
    assert response.status == 400
    assert await response.json() == {"status": 0, "desc": reason}
    assert billrun_keys(redis_client) == []
    assert sim.client.call("POST", "/v1/orders", {"key": sim.key})["total"] == 0
    assert stripay_calls("/v1/checkout/pay") == before


async def test_stripay_down_is_an_upstream_failure_without_url(client, sim) -> None:
    sim.set_fault("/v1/checkout/pay", status=503)
    status, body = await get_request(client)
    assert status == 502
    assert body == {"status": 0, "desc": "Stripay could not create the order: Stripay answered HTTP 503"}


async def test_stripay_refusing_the_merchant_key_is_an_upstream_failure(start, billrun_settings, sim) -> None:
    client = await start(replace(billrun_settings, merchant_keys=("not-the-key",)))
    status, body = await get_request(client)
    assert status == 502
    assert body["status"] == 0 and "details" not in body
    assert "HTTP 401: invalid key" in body["desc"]
    assert "not-the-key" not in body["desc"]


async def test_order_lookup_failing_still_answers_the_page_without_an_order_id(client, sim, redis_client) -> None:
    sim.set_fault("/v1/order", status=503)
    status, body = await get_request(client, request_parameters=True)
    assert (status, body["status"]) == (200, 1)
    assert body["details"]["url"]["order_id"] is None and body["details"]["url"]["order"] is None
    assert redis_client.hget(record_key(body["details"]["url"]["txId"]), "order_id") is None


async def test_redis_down_answers_503_in_billruns_shape(client, sim, redis_server) -> None:
    redis_server.stop()
    try:
        status, body = await get_request(client)
    finally:
        redis_server.start()
    assert (status, body) == (503, {"status": 0, "desc": "temporarily unavailable"})
