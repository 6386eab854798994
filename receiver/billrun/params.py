"""getRequest's ``data`` and okPage's txId, read and checked (pure; no I/O).

Every refusal is :class:`BadRequest`, whose text says which field and why.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from shared.billrun_signature import DataError, decode_data

GATEWAY_NAMES = ("StripeCheckout", "Stripay")
TX_ID_PATTERN = re.compile(r"[0-9]{1,32}")
TX_ID_DIGITS = 19
MAX_PAGE_CHARS = 900  # Stripay allows 1024 for failUrl, which gets "txId=..." appended
MAX_FIELD_CHARS = 254
MAX_AMOUNT = Decimal("1e10")
MAX_AMOUNT_DECIMALS = 2
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+")
CURRENCY_PATTERN = re.compile(r"[A-Za-z]{3}")


class BadRequest(ValueError):
    """The caller's input cannot be used; ``str(err)`` says why."""


@dataclass(frozen=True)
class GetRequestParams:
    ok_page: str
    fail_page: str
    amount: int | float
    aid: str | None
    currency: str | None
    email: str | None
    phone: str | None
    ip: str | None
    request_parameters: bool


def new_tx_id() -> str:
    """A fresh transaction id: 19 random digits, no leading zero (like BillRun's ``9488016758585159237``)."""
    return str(10 ** (TX_ID_DIGITS - 1) + secrets.randbelow(9 * 10 ** (TX_ID_DIGITS - 1)))


def valid_tx_id(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or value == "":
        raise BadRequest("txId is required")
    if not (value.isascii() and TX_ID_PATTERN.fullmatch(value)):
        raise BadRequest("txId must be 1 to 32 digits")
    return value


def read_data(raw: str | None) -> dict[str, Any]:
    """The ``data`` parameter decoded as PHP decodes it (keys in the order sent)."""
    if raw is None or raw.strip() == "":
        raise BadRequest("data is required (a JSON object in the query)")
    try:
        return decode_data(raw)
    except DataError as err:
        raise BadRequest("data must be a JSON object" if "object" in str(err) else "data is not valid JSON") from None


def _page(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None or value == "":
        raise BadRequest(f"{name} is required")
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string")
    if len(value) > MAX_PAGE_CHARS:
        raise BadRequest(f"{name} must be at most {MAX_PAGE_CHARS} characters")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        raise BadRequest(f"{name} must be an absolute http(s) URL")
    return value


def parse_amount(value: object) -> int | float:
    """A positive amount with at most 2 decimals, from a JSON number or a numeric string."""
    if value is None or value == "":
        raise BadRequest("amount is required")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BadRequest("amount must be a number")
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(repr(value))
    except InvalidOperation:
        raise BadRequest("amount must be a number") from None
    if not number.is_finite():
        raise BadRequest("amount must be a number")
    if number <= 0:
        raise BadRequest("amount must be greater than 0")
    if number >= MAX_AMOUNT:
        raise BadRequest(f"amount must be less than {MAX_AMOUNT:f}")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_AMOUNT_DECIMALS and number != number.quantize(Decimal("0.01")):
        raise BadRequest(f"amount must have at most {MAX_AMOUNT_DECIMALS} decimals")
    if number == number.to_integral_value():
        return int(number)
    return float(number)


def _optional_text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BadRequest(f"{name} must be a string")
    text = str(value)
    if len(text) > MAX_FIELD_CHARS:
        raise BadRequest(f"{name} must be at most {MAX_FIELD_CHARS} characters")
    return text


def _flag(data: Mapping[str, Any], name: str) -> bool:
    value = data.get(name)
    if value is None or value in (False, 0, "", "false", "0"):
        return False
    if value in (True, 1, "true", "1"):
        return True
    raise BadRequest(f"{name} must be true or false")


def get_request_params(data: Mapping[str, Any]) -> GetRequestParams:
    """getRequest's fields as parameters, or :class:`BadRequest` saying why not."""
    name = data.get("name")
    if name is not None and name not in GATEWAY_NAMES:
        raise BadRequest(f"name must be {' or '.join(GATEWAY_NAMES)}")
    ok_page = _page(data, "ok_page")
    fail_page = _page(data, "fail_page")
    amount = parse_amount(data.get("amount"))
    currency = _optional_text(data, "currency")
    if currency is not None:
        if not CURRENCY_PATTERN.fullmatch(currency):
            raise BadRequest("currency must be a 3-letter ISO code")
        currency = currency.upper()
    email = _optional_text(data, "email")
    if email is not None and not EMAIL_PATTERN.fullmatch(email):
        raise BadRequest("email must be an email address")
    ip = _optional_text(data, "ip")
    if ip is not None:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise BadRequest("ip must be an IPv4 or IPv6 address") from None
    return GetRequestParams(
        ok_page=ok_page,
        fail_page=fail_page,
        amount=amount,
        aid=_optional_text(data, "aid"),
        currency=currency,
        email=email,
        phone=_optional_text(data, "phone"),
        ip=ip,
        request_parameters=_flag(data, "request_parameters"),
    )


def parse_get_request(raw: str | None) -> GetRequestParams:
    """:func:`read_data` then :func:`get_request_params` (the signature is checked in between by the handler)."""
    return get_request_params(read_data(raw))
