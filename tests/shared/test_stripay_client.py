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
