"""Stripay's hosted checkout (``POST /v1/checkout/pay``) and order lookup, for the async receiver.

Pure request building and response parsing, plus :class:`AsyncStripay`, a thin
transport over an aiohttp ``ClientSession`` owned by the application. Errors
are those of :mod:`shared.stripay_client`: :class:`ApiUnavailable` (timeout,
connection error, 5xx, unreadable answer) and :class:`ApiRejected` (4xx).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from shared import metrics
from shared.order import Order
from shared.stripay_client import ApiRejected, ApiRequest, ApiUnavailable, order_request, parse_order_response

CHECKOUT_PAY_ENDPOINT = "/v1/checkout/pay"
PAY_STATUSES = ("success", "fail", "3ds")
REASON_CHARS = 200


@dataclass(frozen=True)
class CheckoutOrder:
    """What a hosted-checkout order is created with (the merchant key is added by the request)."""

    merchant_order_id: str
    amount: int | float
    success_url: str
    fail_url: str
    notify_url: str | None
    ip: str
    email: str
    phone: str
    goods: Sequence[Mapping[str, Any]]
    currency: str | None = None


@dataclass(frozen=True)
class PayAnswer:
    """Stripay's answer to a pay call: ``status`` is success, fail or 3ds."""

    status: str
    status_note: str | None
    redirect_url: str


def checkout_pay_request(key: str, order: CheckoutOrder) -> ApiRequest:
    body: dict[str, Any] = {
        "key": key,
        "merchantOrderId": order.merchant_order_id,
        "amount": order.amount,
        "successUrl": order.success_url,
        "failUrl": order.fail_url,
        "ip": order.ip,
        "email": order.email,
        "phone": order.phone,
        "goods": [dict(item) for item in order.goods],
    }
    if order.currency:
        body["currency"] = order.currency
    if order.notify_url:
        body["notifyUrl"] = order.notify_url
    return ApiRequest(CHECKOUT_PAY_ENDPOINT, body)


def rejection_reason(status: int, body: bytes) -> str:
    """A short, printable reason for a 4xx answer: Stripay's message when it gives one."""
    message: object = None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        document = None
    if isinstance(document, dict):
        error = document.get("error")
        if isinstance(error, dict):
            message = error.get("message")
        elif isinstance(error, str):
            message = error
        if message is None:
            message = document.get("message") or document.get("statusNote")
    if not isinstance(message, str) or not message:
        message = body.decode("utf-8", "replace")
    message = " ".join(message.split())[:REASON_CHARS]
    return f"Stripay answered HTTP {status}: {message}" if message else f"Stripay answered HTTP {status}"


def parse_pay_response(status: int, body: bytes) -> PayAnswer:
    if status >= 500:
        raise ApiUnavailable(f"Stripay answered HTTP {status}")
    if status >= 400:
        raise ApiRejected(rejection_reason(status, body))
    if status != 200:
        raise ApiUnavailable(f"Stripay answered unexpected HTTP {status}")
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise ApiUnavailable("Stripay's pay answer is not JSON") from None
    if not isinstance(document, dict) or document.get("status") not in PAY_STATUSES:
        raise ApiUnavailable("Stripay's pay answer has no status success, fail or 3ds")
    note = document.get("statusNote")
    redirect_url = document.get("redirectUrl")
    if not isinstance(redirect_url, str):
        redirect_url = ""
    if document["status"] != "fail" and not redirect_url.startswith(("http://", "https://")):
        raise ApiUnavailable("Stripay's pay answer has no redirectUrl")
    return PayAnswer(status=document["status"], status_note=note if isinstance(note, str) else None,
                     redirect_url=redirect_url)


class OrderNotFound(ApiRejected):
    """Stripay answered 404: it has no such order."""


def parse_order_lookup(status: int, body: bytes) -> Order:
    """``/v1/order``'s answer; a 404 is :class:`OrderNotFound`."""
    if status == 404:
        raise OrderNotFound(rejection_reason(status, body))
    return parse_order_response(status, body)


class AsyncStripay:
    """Pay and order calls over the application's ``ClientSession``; each call has its own time limit."""

    def __init__(self, session: aiohttp.ClientSession, api_url: str, key: str) -> None:
        self._session = session
        self._api_url = api_url.rstrip("/")
        self._key = key

    async def _post(self, request: ApiRequest, timeout_s: float) -> tuple[int, bytes]:
        started = time.perf_counter()
        code = "error"
        try:
            async with self._session.post(
                self._api_url + request.path,
                json=request.body,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
                allow_redirects=False,
            ) as response:
                body = await response.read()
                code = str(response.status)
                return response.status, body
        except asyncio.TimeoutError:
            code = "timeout"
            raise ApiUnavailable(f"Stripay {request.path} timed out") from None
        except (aiohttp.ClientError, OSError) as err:
            code = "connection_error"
            raise ApiUnavailable(f"Stripay {request.path} unreachable: {type(err).__name__}") from None
        finally:
            metrics.api_requests_total.labels(endpoint=request.path, code=code).inc()
            metrics.api_request_seconds.labels(endpoint=request.path).observe(time.perf_counter() - started)

    async def checkout_pay(self, order: CheckoutOrder, timeout_s: float) -> PayAnswer:
        return parse_pay_response(*await self._post(checkout_pay_request(self._key, order), timeout_s))

    async def order(self, timeout_s: float, order_id: int | None = None, merchant_order_id: str | None = None) -> Order:
        return parse_order_lookup(*await self._post(order_request(self._key, order_id, merchant_order_id), timeout_s))
