"""Driving the BillRun endpoints and the simulator's hosted checkout page, as BillRun and a browser would."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import redis
from aiohttp.test_utils import TestClient

from shared.keys import TRANSITIONS_STREAM

GET_REQUEST = "/paymentgateways/getRequest"
OK_PAGE = "/paymentgateways/okPage"
OK_PAGE_URL = "http://billrun.example/ok"
FAIL_PAGE_URL = "http://billrun.example/fail?lang=en"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def billrun_data(**overrides: Any) -> dict[str, Any]:
    """getRequest's ``data`` as BillRun sends it; an override of ``None`` leaves the field out."""
    data: dict[str, Any] = {
        "iframe": True,
        "aid": "1234",
        "name": "StripeCheckout",
        "type": "account",
        "_t_": "1675858516",
        "ok_page": OK_PAGE_URL,
        "fail_page": FAIL_PAGE_URL,
        "amount": 12.5,
    }
    data.update(overrides)
    return {name: value for name, value in data.items() if value is not None}


async def get_request(client: TestClient, **overrides: Any) -> tuple[int, dict[str, Any]]:
    response = await client.get(GET_REQUEST, params={"data": json.dumps(billrun_data(**overrides))})
    return response.status, await response.json()


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
