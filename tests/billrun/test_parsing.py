"""Pure parts: getRequest's data, txIds, URLs, the pay request and Stripay's answers."""

import json

import pytest

from receiver.billrun.orders import mismatch, page_view
from receiver.billrun.params import (
    BadRequest,
    GetRequestParams,
    new_tx_id,
    parse_amount,
    parse_get_request,
    valid_tx_id,
)
from receiver.billrun.store import TxRecord
from receiver.billrun.urls import checkout_order, with_query
from shared.order import Order
from shared.stripay_client import ApiRejected, ApiUnavailable
from shared.stripay_pay import OrderNotFound, checkout_pay_request, parse_order_lookup, parse_pay_response
from tests.billrun.helpers import billrun_data


def params(**overrides) -> GetRequestParams:
    return parse_get_request(json.dumps(billrun_data(**overrides)))


def test_billrun_data_is_read() -> None:
    read = params(request_parameters=True, email="a@b.example", phone="+15550100", currency="eur")
    assert read == GetRequestParams(ok_page="https://billrun.example/ok", fail_page="https://billrun.example/fail?lang=en",
                                    amount=12.5, aid="1234", currency="EUR", email="a@b.example", phone="+15550100",
                                    ip=None, request_parameters=True)


def test_name_stripay_is_accepted_as_well_as_stripe_checkout() -> None:
    assert params(name="Stripay").amount == 12.5


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "data is required (a JSON object in the query)"),
        ("  ", "data is required (a JSON object in the query)"),
        ("{not json", "data is not valid JSON"),
        ("[1, 2]", "data must be a JSON object"),
        (json.dumps(billrun_data(ok_page=None)), "ok_page is required"),
        (json.dumps(billrun_data(fail_page=None)), "fail_page is required"),
        (json.dumps(billrun_data(amount=None)), "amount is required"),
        (json.dumps(billrun_data(ok_page="ftp://billrun.example/ok")), "ok_page must be an absolute http(s) URL"),
        (json.dumps(billrun_data(ok_page="/ok")), "ok_page must be an absolute http(s) URL"),
        (json.dumps(billrun_data(fail_page="http://x/" + "a" * 1000)), "fail_page must be at most 900 characters"),
        (json.dumps(billrun_data(name="PayPal")), "name must be StripeCheckout or Stripay"),
        (json.dumps(billrun_data(email="not-an-email")), "email must be an email address"),
        (json.dumps(billrun_data(ip="300.1.1.1")), "ip must be an IPv4 or IPv6 address"),
        (json.dumps(billrun_data(currency="EURO")), "currency must be a 3-letter ISO code"),
        (json.dumps(billrun_data(request_parameters="maybe")), "request_parameters must be true or false"),
        # PHP's json_decode (BillRun's) has no NaN: such data is not JSON at all.
        ('{"ok_page": "http://a/ok", "fail_page": "http://a/f", "amount": NaN}', "data is not valid JSON"),
    ],
)
def test_bad_data_says_why(raw, reason) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_get_request(raw)
    assert str(caught.value) == reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [(12.5, 12.5), (10, 10), ("7.25", 7.25), ("3", 3), (0.1, 0.1), (1.50, 1.5), ("2.500", 2.5)],
)
def test_amount_accepts_numbers_with_two_decimals(value, expected) -> None:
    assert parse_amount(value) == expected
    assert type(parse_amount(value)) is type(expected)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (True, "amount must be a number"),
        ("ten", "amount must be a number"),
        ([1], "amount must be a number"),
        (float("inf"), "amount must be a number"),
        (0, "amount must be greater than 0"),
        (-1.5, "amount must be greater than 0"),
        (1.234, "amount must have at most 2 decimals"),
        (0.1 + 0.2, "amount must have at most 2 decimals"),
        (1e10, "amount must be less than 10000000000"),
    ],
)
def test_amount_refuses_what_stripay_would(value, reason) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_amount(value)
    assert str(caught.value) == reason


def test_tx_ids_are_fresh_19_digit_numbers() -> None:
    ids = {new_tx_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(tx) == 19 and tx.isdigit() and tx[0] != "0" for tx in ids)


@pytest.mark.parametrize("value", ["", None, "abc", "12a", "-1", "1.5", " 12", "١٢٣", "9" * 33])
def test_tx_id_must_be_digits_of_bounded_length(value) -> None:
    with pytest.raises(BadRequest):
        valid_tx_id(value)


def test_tx_id_of_digits_is_kept() -> None:
    assert valid_tx_id("9488016758585159237") == "9488016758585159237"
    assert valid_tx_id(42) == "42"


def test_with_query_keeps_the_callers_query_and_fragment() -> None:
    assert with_query("http://b.example/fail?lang=en#top", txId="12") == "http://b.example/fail?lang=en&txId=12#top"
    assert with_query("http://b.example/ok", txId="12", status="completed") == \
        "http://b.example/ok?txId=12&status=completed"


def test_checkout_order_points_back_at_this_service() -> None:
    order = checkout_order(params(), "77", "https://hooks.example", "203.0.113.9")
    assert order.success_url == "https://hooks.example/paymentgateways/okPage?txId=77"
    assert order.fail_url == "https://billrun.example/fail?lang=en&txId=77"
    assert order.notify_url == "https://hooks.example/stripay/notify"
    assert (order.merchant_order_id, order.amount, order.ip) == ("77", 12.5, "203.0.113.9")
    assert order.email == "tx77@billrun.invalid"


def test_checkout_order_prefers_the_customers_own_contact_data() -> None:
    order = checkout_order(params(email="c@d.example", phone="+15550100", ip="198.51.100.7"), "77",
                           "https://hooks.example", "203.0.113.9")
    assert (order.email, order.phone, order.ip) == ("c@d.example", "+15550100", "198.51.100.7")


def test_pay_request_carries_every_required_field() -> None:
    request = checkout_pay_request("k", checkout_order(params(currency="eur"), "77", "https://h.example", "1.2.3.4"))
    assert request.path == "/v1/checkout/pay"
    required = {"key", "merchantOrderId", "amount", "successUrl", "failUrl", "ip", "email", "phone", "goods"}
    assert required <= set(request.body)
    assert request.body["currency"] == "EUR" and request.body["notifyUrl"] == "https://h.example/stripay/notify"
    assert request.body["goods"] and all(isinstance(item, dict) for item in request.body["goods"])


def test_pay_answers_are_read() -> None:
    answer = parse_pay_response(200, b'{"status": "3ds", "statusNote": null, "redirectUrl": "https://s.example/p"}')
    assert (answer.status, answer.redirect_url) == ("3ds", "https://s.example/p")
    refused = parse_pay_response(200, b'{"status": "fail", "statusNote": "No account avaliable", "redirectUrl": ""}')
    assert (refused.status, refused.status_note) == ("fail", "No account avaliable")


@pytest.mark.parametrize(
    ("status", "body", "error", "text"),
    [
        (503, b"", ApiUnavailable, "HTTP 503"),
        (200, b"<html>", ApiUnavailable, "not JSON"),
        (200, b'{"status": "ok"}', ApiUnavailable, "no status"),
        (200, b'{"status": "3ds", "redirectUrl": "javascript:x"}', ApiUnavailable, "no redirectUrl"),
        (400, b'{"error": {"message": "email must be an email address"}}', ApiRejected,
         "HTTP 400: email must be an email address"),
        (401, b"nope", ApiRejected, "HTTP 401: nope"),
    ],
)
def test_unusable_pay_answers_say_whether_a_retry_can_help(status, body, error, text) -> None:
    with pytest.raises(error) as caught:
        parse_pay_response(status, body)
    assert text in str(caught.value)


def test_order_lookup_404_is_order_not_found() -> None:
    with pytest.raises(OrderNotFound):
        parse_order_lookup(404, b'{"error": {"message": "order not found"}}')


def record(**overrides) -> TxRecord:
    fields = dict(tx_id="77", ok_page="http://a/ok", fail_page="http://a/fail", aid="1", amount=12.5,
                  currency=None, created_at=0.0, order_id=3)
    fields.update(overrides)
    return TxRecord(**fields)


def stripay_order(**overrides) -> Order:
    fields = {"id": 3, "merchantOrderId": "77", "amount": 12.5, "currency": "USD", "status": "completed",
              "updatedAt": "2023-01-10T03:43:37.000Z"}
    fields.update(overrides)
    return Order.from_api(fields)


@pytest.mark.parametrize(
    ("record_overrides", "order_overrides", "problem"),
    [
        ({}, {}, None),
        ({"order_id": None}, {}, None),
        ({"amount": 12.50}, {"amount": 12.5}, None),
        ({}, {"merchantOrderId": "78"}, "merchantOrderId"),
        ({}, {"id": 4}, "order id"),
        ({}, {"amount": 0.01}, "amount"),
        ({"currency": "EUR"}, {}, "currency"),
    ],
)
def test_mismatch_names_what_differs(record_overrides, order_overrides, problem) -> None:
    assert mismatch(record(**record_overrides), stripay_order(**order_overrides)) == problem


def test_tx_record_round_trips_through_redis_fields() -> None:
    original = record(currency="EUR", amount=10)
    raw = {name.encode(): value.encode() for name, value in original.fields().items()}
    assert TxRecord.from_fields("77", raw) == original


def test_page_view_tells_only_what_billruns_page_needs() -> None:
    order = stripay_order(email="buyer@example.com", ip="203.0.113.9", phone="+15550100", riskScore=12,
                          statusNote="note", successUrl="https://x/ok", failUrl="https://x/fail")
    assert page_view(record(), order) == {"txId": "77", "aid": "1", "amount": 12.5, "currency": "USD",
                                          "status": "completed", "order_id": 3}
