"""The field rules of Stripay's docs, one failure mode per test."""

from typing import Any

import pytest

from simulator.validation import (
    ValidationError,
    parse_status_change,
    validate_order_lookup,
    validate_page,
    validate_pay,
    validate_sim_order,
)


def direct_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": "k",
        "merchantOrderId": "order-1",
        "amount": 9.9,
        "successUrl": "https://shop.example/success",
        "failUrl": "https://shop.example/fail",
        "ip": "38.94.109.229",
        "email": "buyer@example.com",
        "phone": "+12025550123",
        "goods": [{"sku": "1", "title": "test", "quantity": "1", "amount": "9.9"}],
        "cardNumber": "4242424242424242",
        "cardExpYear": "2028",
        "cardExpMonth": "08",
        "cardCvc": "888",
    }
    body.update(changes)
    return {name: value for name, value in body.items() if value is not ...}


def rejected(body: dict[str, Any], kind: str = "direct") -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        validate_pay(body, kind)
    return caught.value


def test_valid_direct_body_gives_the_order_and_card() -> None:
    request = validate_pay(direct_body(), "direct")
    assert request.order.merchant_order_id == "order-1"
    assert request.order.amount == 9.9
    assert request.order.currency == "USD"
    assert request.order.notify_url is None
    assert request.card is not None and request.card.number == "4242424242424242"
    assert request.force3ds is False


@pytest.mark.parametrize(
    "name",
    ["merchantOrderId", "amount", "successUrl", "failUrl", "ip", "email", "phone", "goods",
     "cardNumber", "cardExpYear", "cardExpMonth", "cardCvc"],
)
@pytest.mark.parametrize("missing", [..., None, ""], ids=["absent", "null", "empty"])
def test_each_required_field_of_direct_pay(name: str, missing: Any) -> None:
    err = rejected(direct_body(**{name: missing}))
    assert (err.field, err.message) == (name, f"{name} is required")


@pytest.mark.parametrize("kind", ["inline", "checkout", "paypal"])
def test_hosted_kinds_need_no_card(kind: str) -> None:
    body = direct_body(cardNumber=..., cardExpYear=..., cardExpMonth=..., cardCvc=...)
    assert validate_pay(body, kind).card is None


def test_merchant_order_id_of_64_characters_is_accepted() -> None:
    assert validate_pay(direct_body(merchantOrderId="x" * 64), "direct").order.merchant_order_id == "x" * 64


def test_merchant_order_id_over_64_characters_is_rejected() -> None:
    err = rejected(direct_body(merchantOrderId="x" * 65))
    assert (err.field, err.message) == ("merchantOrderId", "merchantOrderId must be at most 64 characters")


def test_merchant_order_id_must_be_a_string() -> None:
    assert rejected(direct_body(merchantOrderId=7)).message == "merchantOrderId must be a string"


@pytest.mark.parametrize("amount", [1, 1.5, 1.99, 10.0, 0.01, 123456.78])
def test_amount_with_at_most_two_decimals_is_accepted(amount: float) -> None:
    assert validate_pay(direct_body(amount=amount), "direct").order.amount == amount


@pytest.mark.parametrize("amount", [1.999, 0.001, 0.1 + 0.2])
def test_amount_with_more_than_two_decimals_is_rejected(amount: float) -> None:
    assert rejected(direct_body(amount=amount)).message == "amount must have at most 2 decimals"


@pytest.mark.parametrize("amount", ["9.90", True, [1], float("nan"), float("inf")])
def test_amount_must_be_a_number(amount: Any) -> None:
    assert rejected(direct_body(amount=amount)).message == "amount must be a number"


@pytest.mark.parametrize("amount", [0, -1.5])
def test_amount_must_be_positive(amount: float) -> None:
    assert rejected(direct_body(amount=amount)).message == "amount must be greater than 0"


def test_currency_is_upper_cased() -> None:
    assert validate_pay(direct_body(currency="eur"), "direct").order.currency == "EUR"


@pytest.mark.parametrize("currency", ["US", "USDT", "U$D"])
def test_currency_must_be_three_letters(currency: str) -> None:
    err = rejected(direct_body(currency=currency))
    assert (err.field, err.message) == ("currency", "currency must be a 3-letter ISO code")


@pytest.mark.parametrize("name", ["successUrl", "failUrl", "notifyUrl"])
def test_url_of_1024_characters_is_accepted(name: str) -> None:
    long_url = "https://shop.example/" + "a" * (1024 - len("https://shop.example/"))
    validate_pay(direct_body(**{name: long_url}), "direct")


@pytest.mark.parametrize("name", ["successUrl", "failUrl", "notifyUrl"])
def test_url_over_1024_characters_is_rejected(name: str) -> None:
    too_long = "https://shop.example/" + "a" * 1024
    err = rejected(direct_body(**{name: too_long}))
    assert (err.field, err.message) == (name, f"{name} must be at most 1024 characters")


@pytest.mark.parametrize("name", ["successUrl", "failUrl", "notifyUrl"])
def test_url_must_be_http(name: str) -> None:
    assert rejected(direct_body(**{name: "ftp://shop.example/x"})).message == f"{name} must be an http(s) URL"


def test_ip_must_be_an_address() -> None:
    assert rejected(direct_body(ip="localhost")).field == "ip"


def test_email_must_be_an_address() -> None:
    assert rejected(direct_body(email="buyer.example.com")).field == "email"


def test_phone_must_be_a_string() -> None:
    assert rejected(direct_body(phone=12025550123)).message == "phone must be a string"


@pytest.mark.parametrize("goods", [[], "sku-1", [1, 2]])
def test_goods_must_be_a_non_empty_array_of_objects(goods: Any) -> None:
    assert rejected(direct_body(goods=goods)).message == "goods must be a non-empty array of objects"


@pytest.mark.parametrize(
    ("name", "value"),
    [("cardNumber", "4242"), ("cardNumber", 4242424242424242), ("cardExpYear", "28"),
     ("cardExpMonth", "13"), ("cardExpMonth", "00"), ("cardCvc", "12")],
)
def test_card_fields_are_checked(name: str, value: Any) -> None:
    assert rejected(direct_body(**{name: value})).field == name


@pytest.mark.parametrize("name", ["billingCountry", "billingState"])
def test_billing_codes_are_two_letters(name: str) -> None:
    assert rejected(direct_body(**{name: "USA"})).message == f"{name} must be a 2-letter ISO code"


def test_optional_strings_must_be_strings() -> None:
    assert rejected(direct_body(billingCity=5)).message == "billingCity must be a string"


def test_force3ds_must_be_a_boolean() -> None:
    assert rejected(direct_body(force3ds="yes")).message == "force3ds must be a boolean"


def test_force3ds_is_read_on_direct_pay() -> None:
    assert validate_pay(direct_body(force3ds=True), "direct").force3ds is True


def test_paypal_has_no_force3ds() -> None:
    assert validate_pay(direct_body(force3ds=True), "paypal").force3ds is False


def test_page_defaults() -> None:
    assert validate_page({}) == (1, 20)


@pytest.mark.parametrize("limit", [20, 57, 100])
def test_limit_in_range_is_accepted(limit: int) -> None:
    assert validate_page({"page": 2, "limit": limit}) == (2, limit)


@pytest.mark.parametrize("limit", [19, 101, 0])
def test_limit_out_of_range_is_rejected(limit: int) -> None:
    with pytest.raises(ValidationError, match=r"limit must be in the range \[20, 100\]"):
        validate_page({"limit": limit})


def test_limit_must_be_an_integer() -> None:
    with pytest.raises(ValidationError, match="limit must be an integer"):
        validate_page({"limit": "50"})


def test_page_starts_at_one() -> None:
    with pytest.raises(ValidationError, match="page must be >= 1"):
        validate_page({"page": 0})


@pytest.mark.parametrize(("raw", "order_id"), [(12, 12), ("12", 12)])
def test_order_lookup_by_id(raw: Any, order_id: int) -> None:
    assert validate_order_lookup({"orderId": raw}) == order_id


def test_order_lookup_by_merchant_order_id() -> None:
    assert validate_order_lookup({"merchantOrderId": "m-1"}) == "m-1"


def test_order_id_wins_over_merchant_order_id() -> None:
    assert validate_order_lookup({"orderId": 3, "merchantOrderId": "m-1"}) == 3


def test_order_lookup_needs_one_of_the_ids() -> None:
    with pytest.raises(ValidationError, match="orderId or merchantOrderId is required"):
        validate_order_lookup({})


@pytest.mark.parametrize("raw", ["abc", -1, 1.5, True])
def test_order_id_must_be_an_integer(raw: Any) -> None:
    with pytest.raises(ValidationError, match="orderId must be an integer"):
        validate_order_lookup({"orderId": raw})


def test_status_change_must_name_a_stripay_status() -> None:
    with pytest.raises(ValidationError, match="status must be one of"):
        parse_status_change({"status": "paid"})


def test_sim_order_defaults() -> None:
    order, status, note = validate_sim_order({}, "sim-1")
    assert (order.merchant_order_id, order.amount, order.currency, order.notify_url) == ("sim-1", 9.99, "USD", None)
    assert (status, note) == ("pending", None)


def test_sim_order_risk_score_range() -> None:
    with pytest.raises(ValidationError, match=r"riskScore must be in the range \[0, 100\]"):
        validate_sim_order({"riskScore": 101}, "sim-1")
