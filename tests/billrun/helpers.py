"""Driving the BillRun endpoints and the simulator's hosted checkout page, as BillRun and a browser would."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import redis
from aiohttp.test_utils import TestClient

from prometheus_client import REGISTRY

from shared.billrun_signature import sign
from shared.keys import TRANSITIONS_STREAM

GET_REQUEST = "/paymentgateways/getRequest"
OK_PAGE = "/paymentgateways/okPage"
OK_PAGE_URL = "https://billrun.example/ok"
FAIL_PAGE_URL = "https://billrun.example/fail?lang=en"
REDIRECT_HOSTS = ("billrun.example",)
SHARED_SECRET = "billrun-shared-secret-0123456789"
OLD_SHARED_SECRET = "billrun-old-secret-9876543210ab"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def billrun_data(**overrides: Any) -> dict[str, Any]:
    """getRequest's ``data`` as BillRun sends it; an override of ``None`` leaves the field out."""
    data: dict[str, Any] = {
        "iframe": True,
        "aid": "1234",
        "name": "StripeCheckout",
        "type": "account",
        "_t_": str(int(time.time())),
        "ok_page": OK_PAGE_URL,
        "fail_page": FAIL_PAGE_URL,
        "amount": 12.5,
    }
    data.update(overrides)
    return {name: value for name, value in data.items() if value is not None}


def signed_data(secret: str = SHARED_SECRET, **overrides: Any) -> dict[str, Any]:
    """getRequest's ``data`` signed as a BillRun client signs it (``_sig_`` last)."""
    return sign(billrun_data(**overrides), secret)


async def send_data(client: TestClient, data: dict[str, Any] | str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """getRequest with ``data`` (a dict, or the exact text) in the query string."""
    raw = data if isinstance(data, str) else json.dumps(data)
    response = await client.get(GET_REQUEST, params={"data": raw}, **kwargs)
    return response.status, await response.json()


async def get_request(client: TestClient, **overrides: Any) -> tuple[int, dict[str, Any]]:
    """getRequest as BillRun sends it, signed with the shared secret."""
    return await send_data(client, signed_data(**overrides))


def stripay_calls(endpoint: str) -> float:
    """Requests this process made to Stripay's ``endpoint``, whatever their answer."""
    total = 0.0
    for metric in REGISTRY.collect():
        if metric.name == "stripay_api_requests":
            total += sum(sample.value for sample in metric.samples
                         if sample.name.endswith("_total") and sample.labels.get("endpoint") == endpoint)
    return total


async def ok_page(client: TestClient, tx_id: str, headers: dict[str, str] | None = None) -> aiohttp.ClientResponse:
    return await client.get(OK_PAGE, params={"txId": tx_id}, headers=headers, allow_redirects=False)


async def checkout(page_url: str, outcome: str) -> str:
    """Press a button on the hosted checkout page; the Location Stripay redirects the customer to."""
    async with aiohttp.ClientSession() as browser:
        async with browser.post(page_url, params={"outcome": outcome}, allow_redirects=False) as response:
            assert response.status == 302, await response.text()
            return response.headers["Location"]


def query_of(url: str) -> dict[str, str]:
    return {name: values[-1] for name, values in parse_qs(urlsplit(url).query).items()}


def api_view(control_order: dict[str, Any]) -> dict[str, Any]:
    """The simulator's control view of an order as ``/v1/order`` shows it (without ``notifyUrl``)."""
    return {name: value for name, value in control_order.items() if name != "notifyUrl"}


def transitions(client: redis.Redis) -> list[tuple[int, str, str, str]]:
    return [(int(f[b"order_id"]), f[b"from"].decode(), f[b"to"].decode(), f[b"source"].decode())
            for _, f in client.xrange(TRANSITIONS_STREAM)]


async def new_transaction(client: TestClient, **overrides: Any) -> tuple[str, int, str]:
    """getRequest with request_parameters: (txId, Stripay order id, hosted page URL)."""
    status, body = await get_request(client, request_parameters=True, **overrides)
    assert (status, body["status"]) == (200, 1), body
    details = body["details"]["url"]
    return details["txId"], details["order_id"], details["url"]


def view(tx_id: str, order_id: int | None, status: str | None, amount: float = 12.5,
         currency: str | None = "USD") -> dict[str, Any]:
    """okPage's JSON details: what BillRun's page needs, nothing of the customer. ``status`` None:
    Stripay did not answer (pending, amount and currency as getRequest asked)."""
    if status is None:
        return {"txId": tx_id, "aid": "1234", "amount": amount, "currency": None, "status": "pending",
                "order_id": order_id}
    return {"txId": tx_id, "aid": "1234", "amount": amount, "currency": currency, "status": status,
            "order_id": order_id}
