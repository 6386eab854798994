"""BillRun's payment-gateway endpoints, served over Stripay's hosted checkout.

``GET /paymentgateways/getRequest?data={json}`` creates a Stripay checkout
order for a fresh transaction id (txId) and answers the page to send the
customer to. Stripay sends the customer back to ``okPage?txId=...`` on this
service, which asks Stripay's API for the order (the three-sided handshake),
applies the verified state through :func:`shared.order_apply.apply_verified_async`
(history source ``return``), the one path every signal takes, and answers or
redirects. A txId never reports success unless Stripay's order for it is
completed and matches what getRequest asked for.

Every answer has BillRun's shape: ``{"status": 1, "desc": "success", "details": {...}}``
or ``{"status": 0, "desc": <reason>}``.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from aiohttp import web

from receiver.appkeys import HTTP_SESSION, ORDER_STORE, REDIS, SETTINGS
from receiver.billrun_store import BillrunStore, TxRecord
from shared.job_queue import enqueue_reconcile_async
from shared.logging import get_logger
from shared.order import Order
from shared.order_apply import apply_verified_async
from shared.settings import Settings
from shared.stripay_client import ApiRejected, ApiUnavailable
from shared.stripay_pay import AsyncStripay, CheckoutOrder, OrderNotFound

log = get_logger("receiver.billrun")

GET_REQUEST_PATH = "/paymentgateways/getRequest"
OK_PAGE_PATH = "/paymentgateways/okPage"
NOTIFY_PATH = "/stripay/notify"

GATEWAY_NAMES = ("StripeCheckout", "Stripay")
RETURN_TIMEOUT_S = 3.0  # okPage's lookup at Stripay; slower than this answers "pending"
TX_ID_PATTERN = re.compile(r"[0-9]{1,32}")
TX_ID_DIGITS = 19
MAX_PAGE_CHARS = 900  # Stripay allows 1024 for failUrl, which gets "txId=..." appended
MAX_FIELD_CHARS = 254
MAX_AMOUNT = Decimal("1e10")
MAX_AMOUNT_DECIMALS = 2
CREATE_ATTEMPTS = 5
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+")
CURRENCY_PATTERN = re.compile(r"[A-Za-z]{3}")
PLACEHOLDER_EMAIL_DOMAIN = "billrun.invalid"
PLACEHOLDER_PHONE = "unknown"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


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


# --- pure helpers ----------------------------------------------------------------------------


def with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` appended to its query (the caller's own encoding kept, fragment last)."""
    parts = urlsplit(url)
    extra = urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


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


def parse_get_request(raw: str | None) -> GetRequestParams:
    """getRequest's ``data`` query field (JSON) as parameters, or :class:`BadRequest` saying why not."""
    if raw is None or raw.strip() == "":
        raise BadRequest("data is required (a JSON object in the query)")
    try:
        data = json.loads(raw, parse_constant=lambda name: math.nan)
    except (ValueError, RecursionError):
        raise BadRequest("data is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("data must be a JSON object")
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


def client_ip(request: web.Request) -> str:
    remote = request.remote or ""
    try:
        return str(ipaddress.ip_address(remote))
    except ValueError:
        return "127.0.0.1"


def service_base_url(settings: Settings, request: web.Request) -> str:
    """This service's externally reachable base URL: ``STRIPAY_PUBLIC_URL``, else the request's own."""
    if settings.public_url:
        return settings.public_url
    return f"{request.scheme}://{request.host}"


def checkout_order(params: GetRequestParams, tx_id: str, base_url: str, ip: str) -> CheckoutOrder:
    reference = params.aid or "billrun"
    return CheckoutOrder(
        merchant_order_id=tx_id,
        amount=params.amount,
        currency=params.currency,
        success_url=with_query(base_url + OK_PAGE_PATH, txId=tx_id),
        fail_url=with_query(params.fail_page, txId=tx_id),
        notify_url=base_url + NOTIFY_PATH,
        ip=params.ip or ip,
        email=params.email or f"tx{tx_id}@{PLACEHOLDER_EMAIL_DOMAIN}",
        phone=params.phone or PLACEHOLDER_PHONE,
        goods=[{"sku": reference, "title": f"BillRun account {reference}", "quantity": "1",
                "amount": str(params.amount)}],
    )


def _same_amount(a: object, b: object) -> bool:
    try:
        return Decimal(repr(a)).quantize(Decimal("0.01")) == Decimal(repr(b)).quantize(Decimal("0.01"))
    except (InvalidOperation, TypeError, ValueError):
        return False


def mismatch(record: TxRecord, order: Order) -> str | None:
    """Why Stripay's order is not the one getRequest created for this txId, or None."""
    if order.fields.get("merchantOrderId") != record.tx_id:
        return "merchantOrderId"
    if record.order_id is not None and order.id != record.order_id:
        return "order id"
    if not _same_amount(order.fields.get("amount"), record.amount):
        return "amount"
    if record.currency is not None and str(order.fields.get("currency", "")).upper() != record.currency:
        return "currency"
    return None


def wants_html(request: web.Request) -> bool:
    return "text/html" in request.headers.get("Accept", "")


# --- answers ---------------------------------------------------------------------------------


def answer(http_status: int, status: int, desc: str, details: Any = None) -> web.Response:
    body: dict[str, Any] = {"status": status, "desc": desc}
    if details is not None:
        body["details"] = details
    return web.json_response(body, status=http_status)


def redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location})


def _json_errors(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Anything unexpected (Redis down included) answers 503 in BillRun's shape, never a 500."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception as err:  # noqa: BLE001 - the last line of defence
            log.warning("billrun_unavailable", path=request.path, error=type(err).__name__)
            return answer(503, 0, "temporarily unavailable")

    return wrapped


def _stripay(app: web.Application) -> AsyncStripay:
    settings = app[SETTINGS]
    return AsyncStripay(app[HTTP_SESSION], settings.api_url, settings.api_key)


def return_timeout_s(settings: Settings) -> float:
    return min(RETURN_TIMEOUT_S, settings.api_timeout_s)


# --- GET /paymentgateways/getRequest ---------------------------------------------------------


async def _remember(store: BillrunStore, params: GetRequestParams) -> str:
    for _ in range(CREATE_ATTEMPTS):
        tx_id = new_tx_id()
        record = TxRecord(tx_id=tx_id, ok_page=params.ok_page, fail_page=params.fail_page, aid=params.aid,
                          amount=params.amount, currency=params.currency, created_at=time.time())
        if await store.create(record):
            return tx_id
    raise RuntimeError("no free transaction id")


async def _learn_order(app: web.Application, store: BillrunStore, tx_id: str) -> Order | None:
    """Stripay's new order (the pay answer does not name it), remembered with the txId; None if not known now."""
    try:
        order = await _stripay(app).order(return_timeout_s(app[SETTINGS]), merchant_order_id=tx_id)
    except (ApiUnavailable, ApiRejected) as err:
        log.warning("billrun_order_lookup_failed", tx_id=tx_id, error=str(err))
        return None
    if order.fields.get("merchantOrderId") != tx_id:
        return None
    await store.set_order_id(tx_id, order.id)
    return order


@_json_errors
async def get_request(request: web.Request) -> web.Response:
    app = request.app
    try:
        params = parse_get_request(request.query.get("data"))
    except BadRequest as err:
        log.info("billrun_get_request", outcome="bad_request", reason=str(err))
        return answer(400, 0, str(err))
    settings = app[SETTINGS]
    store = BillrunStore(app[REDIS])
    tx_id = await _remember(store, params)
    checkout = checkout_order(params, tx_id, service_base_url(settings, request), client_ip(request))
    try:
        paid = await _stripay(app).checkout_pay(checkout, settings.api_timeout_s)
    except (ApiUnavailable, ApiRejected) as err:
        log.warning("billrun_get_request", outcome="upstream_error", tx_id=tx_id, error=str(err))
        return answer(502, 0, f"Stripay could not create the order: {err}")
    if paid.status == "fail":
        reason = paid.status_note or "no reason given"
        log.warning("billrun_get_request", outcome="refused", tx_id=tx_id, reason=reason)
        return answer(502, 0, f"Stripay refused the payment: {reason}")
    order = await _learn_order(app, store, tx_id)
    log.info("billrun_get_request", outcome="created", tx_id=tx_id, order_id=order.id if order else None,
             pay_status=paid.status)
    if not params.request_parameters:
        return answer(200, 1, "success", {"url": paid.redirect_url})
    return answer(200, 1, "success", {"url": {
        "url": paid.redirect_url,
        "txId": tx_id,
        "order_id": order.id if order else None,
        "order": dict(order.fields) if order else None,
    }})


# --- GET or POST /paymentgateways/okPage -----------------------------------------------------


async def _tx_id_of(request: web.Request) -> object:
    if "txId" in request.query:
        return request.query["txId"]
    if request.method != "POST":
        return None
    try:
        if request.content_type in FORM_TYPES:
            return (await request.post()).get("txId")
        raw = await request.read()
        if not raw.strip():
            return None
        body = json.loads(raw)
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise BadRequest("body cannot be read") from None
    except web.HTTPRequestEntityTooLarge:
        raise BadRequest("body too large") from None
    return body.get("txId") if isinstance(body, dict) else None


async def _pending(request: web.Request, store: BillrunStore, record: TxRecord, received_at: float,
                   error: str) -> web.Response:
    """Stripay did not answer in time: nothing is reported as success; a job fetches the order later."""
    job_id = None
    if record.order_id is not None and await store.claim_requeue(record.tx_id):
        # A reconcile job (source ``return``) that fetches the order again.
        job_id = await enqueue_reconcile_async(request.app[REDIS], request.app[SETTINGS],
                                               {"id": record.order_id, "merchantOrderId": record.tx_id}, "return",
                                               received_at=received_at)
    log.warning("billrun_ok_page", outcome="pending", tx_id=record.tx_id, order_id=record.order_id, job_id=job_id,
                error=error)
    if wants_html(request):
        return redirect(with_query(record.fail_page, txId=record.tx_id, status="pending"))
    return answer(202, 0, "pending", {"txId": record.tx_id})


def _failed(request: web.Request, record: TxRecord, http_status: int, desc: str, token: str,
            details: Any = None) -> web.Response:
    if wants_html(request):
        return redirect(with_query(record.fail_page, txId=record.tx_id, status=token))
    return answer(http_status, 0, desc, details)


@_json_errors
async def ok_page(request: web.Request) -> web.Response:
    received_at = time.time()
    app = request.app
    try:
        tx_id = valid_tx_id(await _tx_id_of(request))
    except BadRequest as err:
        log.info("billrun_ok_page", outcome="bad_request", reason=str(err))
        return answer(400, 0, str(err))
    store = BillrunStore(app[REDIS])
    record = await store.get(tx_id)
    if record is None:
        log.info("billrun_ok_page", outcome="unknown", tx_id=tx_id)
        return answer(404, 0, "unknown txId")

    try:
        order = await _stripay(app).order(return_timeout_s(app[SETTINGS]), merchant_order_id=tx_id)
    except ApiUnavailable as err:
        return await _pending(request, store, record, received_at, str(err))
    except OrderNotFound:
        log.info("billrun_ok_page", outcome="not_found", tx_id=tx_id)
        return _failed(request, record, 404, "order not found at Stripay", "not_found")
    except ApiRejected as err:
        log.warning("billrun_ok_page", outcome="upstream_error", tx_id=tx_id, error=str(err))
        return _failed(request, record, 502, f"Stripay rejected the lookup: {err}", "error")

    # Stripay's answer is the truth of this order: applied forwards-only, like every signal.
    result = await apply_verified_async(app[ORDER_STORE], app[SETTINGS], order, "return", received_at)
    if record.order_id is None and order.fields.get("merchantOrderId") == tx_id:
        await store.set_order_id(tx_id, order.id)
    problem = mismatch(record, order)
    log.info("billrun_ok_page", outcome="verified", tx_id=tx_id, order_id=order.id, status=order.status,
             store=result.outcome, mismatch=problem)
    if problem is not None:
        return _failed(request, record, 409, f"order does not match the transaction ({problem})", "mismatch",
                       {"txId": tx_id})
    if order.status != "completed":
        return _failed(request, record, 200, order.status, order.status,
                       {"txId": tx_id, "status": order.status, "order": dict(order.fields)})
    if wants_html(request):
        return redirect(with_query(record.ok_page, txId=tx_id, status=order.status))
    return answer(200, 1, "success", dict(order.fields))
