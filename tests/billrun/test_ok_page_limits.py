"""okPage tells only what BillRun's page needs, costs at most one Stripay lookup per interval per
known txId, and an anonymous caller can make it write nothing."""

import json
from dataclasses import replace

import pytest

from tests.billrun.helpers import (
    BROWSER,
    OK_PAGE,
    checkout,
    new_transaction,
    ok_page,
    stripay_calls,
    view,
)

PRIVATE = ("email", "ip", "phone", "riskScore", "statusNote", "successUrl", "failUrl", "notifyUrl")


def slow_lookups(billrun_settings, interval_s: float):
    return replace(billrun_settings, billrun=replace(billrun_settings.billrun, lookup_interval_s=interval_s))


async def test_json_answer_carries_no_customer_data(client, sim) -> None:
    tx_id, order_id, page_url = await new_transaction(client, email="buyer@billrun.example", ip="203.0.113.9",
                                                      phone="+15550100")
    await checkout(page_url, "success")
    body = await (await ok_page(client, tx_id)).json()
    assert body == {"status": 1, "desc": "success", "details": view(tx_id, order_id, "completed")}
    text = json.dumps(body)
    assert not any(secret in text for secret in ("buyer@billrun.example", "203.0.113.9", "+15550100"))
    assert not set(PRIVATE) & set(body["details"])


@pytest.mark.parametrize(("params", "headers"), [({"redirect": "0"}, BROWSER), ({}, {"Accept": "application/json"})])
async def test_json_is_asked_for_by_redirect_0_or_accept(client, sim, params, headers) -> None:
    tx_id, order_id, page_url = await new_transaction(client)
    await checkout(page_url, "success")
    response = await client.get(OK_PAGE, params={"txId": tx_id, **params}, headers=headers, allow_redirects=False)
    assert response.status == 200
    assert (await response.json())["details"] == view(tx_id, order_id, "completed")


async def test_unknown_txid_writes_nothing_and_asks_stripay_nothing(client, sim, redis_client) -> None:
    before_keys = sorted(redis_client.keys("*"))
    before_calls = stripay_calls("/v1/order")
    for tx_id in ("9488016758585159237", "1", "x" * 5):
        await ok_page(client, tx_id)
    await client.post(OK_PAGE, data={"txId": "123"})
    assert sorted(redis_client.keys("*")) == before_keys
    assert stripay_calls("/v1/order") == before_calls


async def test_known_txid_costs_one_lookup_per_interval(start, billrun_settings, sim) -> None:
    client = await start(slow_lookups(billrun_settings, 60.0))
    tx_id, order_id, page_url = await new_transaction(client)  # getRequest's own lookup does not count
    await checkout(page_url, "success")
    before = stripay_calls("/v1/order")
    answers = [await (await ok_page(client, tx_id)).json() for _ in range(5)]
    assert stripay_calls("/v1/order") == before + 1
    assert answers == [{"status": 1, "desc": "success", "details": view(tx_id, order_id, "completed")}] * 5


async def test_stored_state_answers_between_lookups_and_a_new_lookup_follows(start, billrun_settings, sim,
                                                                           redis_client) -> None:
    client = await start(slow_lookups(billrun_settings, 60.0))
    tx_id, order_id, page_url = await new_transaction(client)
    first = await (await ok_page(client, tx_id)).json()  # asks Stripay: pending, and stores it
    assert first["details"] == view(tx_id, order_id, "pending")
    await checkout(page_url, "success")
    second = await (await ok_page(client, tx_id)).json()  # within the interval: the stored state
    assert second["details"] == view(tx_id, order_id, "pending")
    redis_client.delete(f"stripay:billrun:lookup:{tx_id}")  # the interval has passed
    third = await (await ok_page(client, tx_id)).json()
    assert (third["status"], third["details"]) == (1, view(tx_id, order_id, "completed"))


async def test_stored_state_is_no_success_for_another_order(start, billrun_settings, sim) -> None:
    client = await start(slow_lookups(billrun_settings, 60.0))
    tx_id, _order_id, _page = await new_transaction(client)
    sim.create_order(merchantOrderId=tx_id, amount=0.01, status="completed")
    assert (await ok_page(client, tx_id)).status == 409
    again = await ok_page(client, tx_id)  # nothing stored for the transaction's own order: pending
    assert (again.status, (await again.json())["desc"]) == (202, "pending")


async def test_every_answer_is_private(client, sim) -> None:
    tx_id, _order_id, page_url = await new_transaction(client)
    await checkout(page_url, "success")
    responses = [
        await ok_page(client, tx_id),
        await ok_page(client, tx_id, headers=BROWSER),
        await ok_page(client, "9488016758585159237"),
        await ok_page(client, "abc"),
        await client.get("/paymentgateways/getRequest"),
        await client.get("/paymentgateways/getRequest", params={"data": "{}"}),
        await client.get("/paymentgateways/nothing"),
        await client.delete(OK_PAGE),
    ]
    assert [response.status for response in responses] == [200, 302, 404, 400, 400, 401, 404, 405]
    for response in responses:
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Referrer-Policy"] == "no-referrer"
    assert (await responses[-2].json())["status"] == 0
