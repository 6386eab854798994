"""Pure validation of request bodies, following the field tables of Stripay's API docs.

Every function takes the decoded JSON body and either returns typed values or
raises :class:`ValidationError` naming the first offending field. A field that
is absent, ``null`` or ``""`` counts as missing. Unknown fields are ignored.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from simulator.orders import STATUSES, NewOrder

PAY_KINDS = ("direct", "inline", "checkout", "paypal")
MAX_MERCHANT_ORDER_ID_CHARS = 64
MAX_URL_CHARS = 1024
MAX_AMOUNT_DECIMALS = 2
MIN_PAGE_LIMIT = 20
MAX_PAGE_LIMIT = 100
DEFAULT_CURRENCY = "USD"

_COMMON_REQUIRED = ("merchantOrderId", "amount", "successUrl", "failUrl", "ip", "email", "phone", "goods")
_CARD_REQUIRED = ("cardNumber", "cardExpYear", "cardExpMonth", "cardCvc")
_OPTIONAL_STRINGS = (
    "billingFirstName", "billingLastName", "billingCity", "billingLine1", "billingLine2",
    "billingPostCode", "plugin", "ua", "timezone", "locale", "languages", "resolution",
)
_TWO_LETTER = re.compile(r"[A-Za-z]{2}")
_THREE_LETTER = re.compile(r"[A-Za-z]{3}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


class ValidationError(ValueError):
    """A request field is missing or malformed."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Card:
    number: str
    exp_year: str
    exp_month: str
    cvc: str


@dataclass(frozen=True)
class PayRequest:
    order: NewOrder
    card: Card | None  # only direct pay carries a card
    force3ds: bool


def is_missing(body: Mapping[str, Any], name: str) -> bool:
    return body.get(name) is None or body.get(name) == ""


def _string(body: Mapping[str, Any], name: str) -> str:
    value = body[name]
    if not isinstance(value, str):
        raise ValidationError(name, f"{name} must be a string")
    return value


def _digits(body: Mapping[str, Any], name: str, pattern: str, what: str) -> str:
    value = _string(body, name)
    if not re.fullmatch(pattern, value):
        raise ValidationError(name, f"{name} must be {what}")
    return value


def _integer(body: Mapping[str, Any], name: str) -> int:
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(name, f"{name} must be an integer")
    return value


def merchant_order_id(body: Mapping[str, Any]) -> str:
    value = _string(body, "merchantOrderId")
    if len(value) > MAX_MERCHANT_ORDER_ID_CHARS:
        raise ValidationError(
            "merchantOrderId", f"merchantOrderId must be at most {MAX_MERCHANT_ORDER_ID_CHARS} characters"
        )
    return value


def amount(body: Mapping[str, Any]) -> int | float:
    value = body["amount"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValidationError("amount", "amount must be a number")
    if value <= 0:
        raise ValidationError("amount", "amount must be greater than 0")
    exponent = Decimal(repr(value)).as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_AMOUNT_DECIMALS:
        raise ValidationError("amount", f"amount must have at most {MAX_AMOUNT_DECIMALS} decimals")
    return value


def currency(body: Mapping[str, Any]) -> str:
    if is_missing(body, "currency"):
        return DEFAULT_CURRENCY
    value = _string(body, "currency")
    if not _THREE_LETTER.fullmatch(value):
        raise ValidationError("currency", "currency must be a 3-letter ISO code")
    return value.upper()


def url(body: Mapping[str, Any], name: str) -> str:
    value = _string(body, name)
    if len(value) > MAX_URL_CHARS:
        raise ValidationError(name, f"{name} must be at most {MAX_URL_CHARS} characters")
    if not value.startswith(("http://", "https://")):
        raise ValidationError(name, f"{name} must be an http(s) URL")
    return value


def optional_url(body: Mapping[str, Any], name: str) -> str | None:
    return None if is_missing(body, name) else url(body, name)


def ip(body: Mapping[str, Any]) -> str:
    value = _string(body, "ip")
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValidationError("ip", "ip must be an IPv4 or IPv6 address") from None
    return value


def email(body: Mapping[str, Any]) -> str:
    value = _string(body, "email")
    if not _EMAIL.fullmatch(value):
        raise ValidationError("email", "email must be an email address")
    return value


def goods(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    value = body["goods"]
    if not isinstance(value, list) or not value or not all(isinstance(item, dict) for item in value):
        raise ValidationError("goods", "goods must be a non-empty array of objects")
    return value


def card(body: Mapping[str, Any]) -> Card:
    return Card(
        number=_digits(body, "cardNumber", r"[0-9]{12,19}", "12 to 19 digits"),
        exp_year=_digits(body, "cardExpYear", r"[0-9]{4}", "4 digits, eg: 2028"),
        exp_month=_digits(body, "cardExpMonth", r"0?[1-9]|1[0-2]", "a month 01 to 12"),
        cvc=_digits(body, "cardCvc", r"[0-9]{3,4}", "3 or 4 digits"),
    )


def _optional_fields(body: Mapping[str, Any], kind: str) -> bool:
    """Check the optional fields' types; return ``force3ds``."""
    names = _OPTIONAL_STRINGS + (("cardHolderName",) if kind == "direct" else ())
    for name in names:
        if not is_missing(body, name):
            _string(body, name)
    for name in ("billingCountry", "billingState"):
        if not is_missing(body, name) and not _TWO_LETTER.fullmatch(_string(body, name)):
            raise ValidationError(name, f"{name} must be a 2-letter ISO code")
    if kind == "paypal" or body.get("force3ds") is None:
        return False
    if not isinstance(body["force3ds"], bool):
        raise ValidationError("force3ds", "force3ds must be a boolean")
    return bool(body["force3ds"])


def validate_pay(body: Mapping[str, Any], kind: str) -> PayRequest:
    """A ``/v1/{kind}/pay`` body (the merchant key is checked before, by the API)."""
    required = _COMMON_REQUIRED + (_CARD_REQUIRED if kind == "direct" else ())
    for name in required:
        if is_missing(body, name):
            raise ValidationError(name, f"{name} is required")
    order = NewOrder(
        merchant_order_id=merchant_order_id(body),
        amount=amount(body),
        currency=currency(body),
        success_url=url(body, "successUrl"),
        fail_url=url(body, "failUrl"),
        notify_url=optional_url(body, "notifyUrl"),
        email=email(body),
        ip=ip(body),
    )
    _string(body, "phone")
    goods(body)
    payment_card = card(body) if kind == "direct" else None
    force3ds = _optional_fields(body, kind)
    return PayRequest(order=order, card=payment_card, force3ds=force3ds)


def validate_page(body: Mapping[str, Any]) -> tuple[int, int]:
    """``(page, limit)`` of ``/v1/orders``: page >= 1 (default 1), limit in [20, 100] (default 20)."""
    page = 1 if is_missing(body, "page") else _integer(body, "page")
    if page < 1:
        raise ValidationError("page", "page must be >= 1")
    limit = MIN_PAGE_LIMIT if is_missing(body, "limit") else _integer(body, "limit")
    if not MIN_PAGE_LIMIT <= limit <= MAX_PAGE_LIMIT:
        raise ValidationError("limit", f"limit must be in the range [{MIN_PAGE_LIMIT}, {MAX_PAGE_LIMIT}]")
    return page, limit


def parse_order_id(value: Any, name: str = "orderId") -> int:
    """An order id given as a JSON integer or a string of digits."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ValidationError(name, f"{name} must be an integer")


def validate_order_lookup(body: Mapping[str, Any]) -> int | str:
    """A ``/v1/order`` body: the ``orderId`` (an int, recommended, wins when both are
    given) or else the ``merchantOrderId`` (a str)."""
    if not is_missing(body, "orderId"):
        return parse_order_id(body["orderId"])
    if not is_missing(body, "merchantOrderId"):
        return merchant_order_id(body)
    raise ValidationError("orderId", "orderId or merchantOrderId is required")


def parse_status_change(body: Mapping[str, Any]) -> tuple[str, str | None]:
    """``(status, statusNote)`` of a control request; the note is optional."""
    if is_missing(body, "status"):
        raise ValidationError("status", "status is required")
    value = _string(body, "status")
    if value not in STATUSES:
        raise ValidationError("status", f"status must be one of {', '.join(STATUSES)}")
    note = None if body.get("statusNote") is None else _string(body, "statusNote")
    return value, note


def validate_sim_order(body: Mapping[str, Any], default_merchant_order_id: str) -> tuple[NewOrder, str, str | None]:
    """A ``POST /_sim/orders`` body: every field optional, with defaults.

    Returns the order to create and the ``(status, statusNote)`` to drive it to.
    """
    def given(name: str) -> bool:
        return not is_missing(body, name)

    risk_score = _integer(body, "riskScore") if given("riskScore") else 0
    if not 0 <= risk_score <= 100:
        raise ValidationError("riskScore", "riskScore must be in the range [0, 100]")
    is3ds = body.get("is3ds", False)
    if not isinstance(is3ds, bool):
        raise ValidationError("is3ds", "is3ds must be a boolean")
    order = NewOrder(
        merchant_order_id=merchant_order_id(body) if given("merchantOrderId") else default_merchant_order_id,
        amount=amount(body) if given("amount") else 9.99,
        currency=currency(body),
        success_url=url(body, "successUrl") if given("successUrl") else "https://shop.example/success",
        fail_url=url(body, "failUrl") if given("failUrl") else "https://shop.example/fail",
        notify_url=optional_url(body, "notifyUrl"),
        email=email(body) if given("email") else "buyer@example.com",
        ip=ip(body) if given("ip") else "127.0.0.1",
        risk_score=risk_score,
        is3ds=is3ds,
    )
    target = parse_status_change(body) if given("status") else ("pending", None)
    return order, target[0], target[1]
