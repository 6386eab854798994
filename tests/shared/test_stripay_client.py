import json

import pytest

from shared.stripay_client import (
    ApiRejected, ApiUnavailable, order_request, orders_request, parse_order_response, parse_orders_response,
)

ORDER = {"id": 1, "merchantId": 1, "merchantOrderId": "m-1", "amount": 1.99, "currency": "USD",
         "status": "completed", "statusNote": None, "updatedAt": "2023-01-10T03:43:37.000Z"}


def test_order_request_prefers_order_id() -> None:
    request = order_request("k", order_id=5)
    assert (request.path, request.body) == ("/v1/order", {"key": "k", "orderId": 5})


def test_order_request_by_merchant_order_id() -> None:
    assert order_request("k", merchant_order_id="m").body == {"key": "k", "merchantOrderId": "m"}


def test_orders_request_pages() -> None:
    assert orders_request("k", page=2).body == {"key": "k", "page": 2, "limit": 100}


def test_parse_order() -> None:
    order = parse_order_response(200, json.dumps({"order": ORDER}).encode())
    assert (order.id, order.status, order.updated_ms) == (1, "completed", 1673322217000)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retryable(status: int) -> None:
    with pytest.raises(ApiUnavailable):
        parse_order_response(status, b"")


@pytest.mark.parametrize("status", [400, 401, 404])
def test_4xx_is_not_retryable(status: int) -> None:
    with pytest.raises(ApiRejected):
        parse_order_response(status, b'{"error": "bad key"}')


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"order": null}', b'{"order": {"id": "x"}}',
                                  b'{"order": {"id": 1, "status": "completed", "updatedAt": "yesterday"}}'])
def test_unreadable_answer_is_a_retryable_failure_not_a_crash(body: bytes) -> None:
    with pytest.raises(ApiUnavailable):
        parse_order_response(200, body)


def test_parse_orders_page() -> None:
    page = parse_orders_response(200, json.dumps({"total": 90, "orders": [ORDER]}).encode())
    assert page.total == 90 and [o.id for o in page.orders] == [1]


# --- the transport, over real HTTP against the simulator


def _requests(code: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("stripay_api_requests_total", {"endpoint": "/v1/order", "code": code}) or 0.0


def test_order_is_read_over_a_kept_alive_connection(sim) -> None:
    from shared.stripay_client import StripayClient
    from tests.support.payloads import MERCHANT_KEY

    created = sim.create_order(amount=5, currency="USD", status="completed")
    client = StripayClient(sim.url + "/", timeout_s=5.0, max_connections=2)
    before = _requests("200")
    try:
        orders = [client.order(MERCHANT_KEY, order_id=int(created["id"])) for _ in range(3)]
        pool = client._http.connection_from_url(sim.url)
        assert pool.num_connections == 1  # one connection opened, reused by the later calls
    finally:
        client.close()
    assert {(order.id, order.status) for order in orders} == {(int(created["id"]), "completed")}
    assert _requests("200") - before == 3


def test_an_api_slower_than_the_timeout_is_unavailable_not_a_hang(sim) -> None:
    from shared.stripay_client import StripayClient
    from tests.support.payloads import MERCHANT_KEY

    created = sim.create_order(amount=5, currency="USD", status="completed")
    sim.set_fault("/v1/order", latency_s=5.0)
    client = StripayClient(sim.url, timeout_s=0.2)
    before = _requests("timeout")
    try:
        with pytest.raises(ApiUnavailable, match="timed out"):
            client.order(MERCHANT_KEY, order_id=int(created["id"]))
    finally:
        client.close()
        sim.clear_faults()
    assert _requests("timeout") - before == 1


def test_an_unreachable_api_is_unavailable(sim) -> None:
    from shared.embedded_redis import free_port
    from shared.stripay_client import StripayClient
    from tests.support.payloads import MERCHANT_KEY

    client = StripayClient(f"http://127.0.0.1:{free_port()}", timeout_s=2.0)
    before = _requests("connection_error")
    try:
        with pytest.raises(ApiUnavailable, match="unreachable"):
            client.order(MERCHANT_KEY, order_id=1)
    finally:
        client.close()
    assert _requests("connection_error") - before == 1
