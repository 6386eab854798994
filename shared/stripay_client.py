"""Stripay's order API: pure request building and response parsing, thin transport.

Errors say whether a retry can help: :class:`ApiUnavailable` (timeouts,
connection errors, 5xx, unreadable answers) is retried with backoff;
:class:`ApiRejected` (4xx: wrong key, unknown order) is not.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import urllib3

from shared import metrics
from shared.order import Order, OrderFormatError

ORDER_ENDPOINT = "/v1/order"
ORDERS_ENDPOINT = "/v1/orders"


class ApiError(Exception):
    """A Stripay API call did not give a usable answer."""

    retryable = True


class ApiUnavailable(ApiError):
    retryable = True


class ApiRejected(ApiError):
    retryable = False


class OrderNotFound(ApiRejected):
    """Stripay does not know the order (HTTP 404 on /v1/order for this merchant's key)."""


@dataclass(frozen=True)
class ApiRequest:
    path: str
    body: dict[str, Any]


@dataclass(frozen=True)
class OrdersPage:
    total: int
    orders: list[Order]


def order_request(key: str, order_id: int | None = None, merchant_order_id: str | None = None) -> ApiRequest:
    if order_id is not None:
        return ApiRequest(ORDER_ENDPOINT, {"key": key, "orderId": order_id})
    if merchant_order_id is not None:
        return ApiRequest(ORDER_ENDPOINT, {"key": key, "merchantOrderId": merchant_order_id})
    raise ValueError("orderId or merchantOrderId is required")


def orders_request(key: str, page: int, limit: int = 100) -> ApiRequest:
    return ApiRequest(ORDERS_ENDPOINT, {"key": key, "page": page, "limit": limit})


def _json_body(status: int, body: bytes) -> Any:
    if status >= 500:
        raise ApiUnavailable(f"Stripay answered HTTP {status}")
    if status >= 400:
        raise ApiRejected(f"Stripay answered HTTP {status}: {body[:200].decode('utf-8', 'replace')}")
    if status != 200:
        raise ApiUnavailable(f"Stripay answered unexpected HTTP {status}")
    try:
        return json.loads(body)
    except ValueError:
        raise ApiUnavailable("Stripay's answer is not JSON") from None


def parse_order_response(status: int, body: bytes) -> Order:
    if status == 404:
        raise OrderNotFound(f"Stripay answered HTTP 404: {body[:200].decode('utf-8', 'replace')}")
    document = _json_body(status, body)
    if not isinstance(document, dict) or "order" not in document:
        raise ApiUnavailable("Stripay's answer has no order")
    try:
        return Order.from_api(document["order"])
    except OrderFormatError as err:
        raise ApiUnavailable(f"Stripay's order cannot be read: {err}") from None


def parse_orders_response(status: int, body: bytes) -> OrdersPage:
    document = _json_body(status, body)
    if not isinstance(document, dict) or not isinstance(document.get("orders"), list):
        raise ApiUnavailable("Stripay's answer has no orders list")
    try:
        orders = [Order.from_api(item) for item in document["orders"]]
    except OrderFormatError as err:
        raise ApiUnavailable(f"Stripay's orders cannot be read: {err}") from None
    total = document.get("total")
    return OrdersPage(total=total if isinstance(total, int) else len(orders), orders=orders)


def _timed_out(err: Exception) -> bool:
    """A timeout, not a refused or failed connection (urllib3 makes those a kind of timeout too)."""
    errors = urllib3.exceptions
    return isinstance(err, errors.TimeoutError) and not isinstance(err, errors.NewConnectionError)


# Connections kept per API host when the caller does not size the pool (the CLI: one thread).
DEFAULT_CONNECTIONS = 4
JSON_HEADERS = {"Content-Type": "application/json"}


class StripayClient:
    """Blocking transport with a thread-safe connection pool, created once per worker process.

    It holds no merchant key: every call names the key of the merchant the
    order belongs to (:meth:`shared.settings.Settings.api_key_for`).

    urllib3 rather than httpx: the same pooled, keep-alive HTTP/1.1 at well under
    half the CPU per request, which is what bounds a worker process running many
    reconciles at once (bench/README.md). No retries here: a failed call raises
    :class:`ApiUnavailable` and the job's own retry schedule takes over. Every
    call is bounded by ``timeout_s`` in all (connecting, sending and reading).
    """

    def __init__(self, api_url: str, timeout_s: float, max_connections: int | None = None) -> None:
        """``max_connections``: connections kept to the API, one per job thread of the process."""
        self._base_url = api_url.rstrip("/")
        self._http = urllib3.PoolManager(
            maxsize=max_connections or DEFAULT_CONNECTIONS, timeout=urllib3.Timeout(total=timeout_s), retries=False)

    def _post(self, request: ApiRequest) -> tuple[int, bytes]:
        started = time.perf_counter()
        code = "error"
        try:
            response = self._http.request("POST", self._base_url + request.path, headers=JSON_HEADERS,
                                          body=json.dumps(request.body).encode())
            code = str(response.status)
            return response.status, response.data
        except urllib3.exceptions.HTTPError as err:
            if _timed_out(err):
                code = "timeout"
                raise ApiUnavailable(f"Stripay {request.path} timed out") from None
            code = "connection_error"
            raise ApiUnavailable(f"Stripay {request.path} unreachable: {type(err).__name__}") from None
        finally:
            metrics.api_requests_total.labels(endpoint=request.path, code=code).inc()
            metrics.api_request_seconds.labels(endpoint=request.path).observe(time.perf_counter() - started)

    def order(self, key: str, order_id: int | None = None, merchant_order_id: str | None = None) -> Order:
        return parse_order_response(*self._post(order_request(key, order_id, merchant_order_id)))

    def orders(self, key: str, page: int, limit: int = 100) -> OrdersPage:
        return parse_orders_response(*self._post(orders_request(key, page, limit)))

    def close(self) -> None:
        self._http.clear()
