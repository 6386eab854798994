"""GET or POST /paymentgateways/okPage: the customer's return, confirmed with Stripay and applied
through the one path that applies verified state (history source "return")."""

import asyncio
from dataclasses import replace

import pytest
from rq.job import Job
from rq.serializers import JSONSerializer

from receiver.billrun.store import record_key
from shared.order_store import OrderStore
from tests.billrun.helpers import (
    BROWSER,
    FAIL_PAGE_URL,
    OK_PAGE,
    OK_PAGE_URL,
    api_view,
    checkout,
    new_transaction,
    ok_page,
    query_of,
    transitions,
    view,
)
from tests.support.worker import failed_ids, rq_queue, run_jobs, worker_context


async def test_paid_order_is_confirmed_applied_once_and_the_notification_changes_nothing(
    client, sim, redis_client, billrun_settings
) -> None:
    tx_id, order_id, page_url = await new_transaction(client)
    location = await checkout(page_url, "success")
    assert location == str(client.make_url(OK_PAGE)) + f"?txId={tx_id}"

    response = await client.session.get(location, allow_redirects=False)  # where Stripay sent the customer
    body = await response.json()
    truth = api_view(sim.order(order_id))
    assert (response.status, body) == (200, {"status": 1, "desc": "success",
                                             "details": view(tx_id, order_id, "completed")})
    stored = OrderStore(redis_client).get(order_id)
    assert stored is not None
    assert (stored.status, stored.state, stored.source) == ("completed", truth, "return")
    assert [(h["from"], h["to"], h["source"]) for h in stored.history] == [(None, "completed", "return")]
    assert transitions(redis_client) == [(order_id, "", "completed", "return")]

    # Stripay's notification of the same change arrives, is accepted, and its job changes nothing.
    [delivery] = await asyncio.to_thread(sim.wait_for_deliveries, 1)
    assert (delivery["order_id"], delivery["status"], delivery["ok"]) == (order_id, "completed", True)
    assert rq_queue(redis_client).count == 1
    with worker_context(billrun_settings):
        run_jobs(redis_client)
    assert failed_ids(redis_client) == []
    assert transitions(redis_client) == [(order_id, "", "completed", "return")]
    assert len(OrderStore(redis_client).get(order_id).history) == 1


async def test_return_before_payment_is_never_success(client, sim, redis_client) -> None:
    tx_id, order_id, _page = await new_transaction(client)
    response = await ok_page(client, tx_id)
    body = await response.json()
    assert response.status == 200
    assert body == {"status": 0, "desc": "pending",
                    "details": view(tx_id, order_id, "pending")}
    assert OrderStore(redis_client).get(order_id).status == "pending"


async def test_rejected_payment_is_never_success(client, sim) -> None:
    tx_id, _order_id, page_url = await new_transaction(client)
    location = await checkout(page_url, "fail")
    assert location == f"{FAIL_PAGE_URL}&txId={tx_id}"
    body = await (await ok_page(client, tx_id)).json()
    assert (body["status"], body["desc"], body["details"]["status"]) == (0, "rejected", "rejected")


async def test_unknown_txid_is_never_success(client, sim, redis_client) -> None:
    response = await ok_page(client, "9488016758585159237")
    assert (response.status, await response.json()) == (404, {"status": 0, "desc": "unknown txId"})
    assert redis_client.keys("stripay:order:*") == []


async def test_txid_forged_for_a_completed_stripay_order_is_never_success(client, sim, redis_client) -> None:
    # Stripay knows a completed order under this merchantOrderId, but getRequest never issued the txId.
    sim.create_order(merchantOrderId="1234567890123456789", amount=12.5, status="completed")
    response = await ok_page(client, "1234567890123456789")
    assert (response.status, await response.json()) == (404, {"status": 0, "desc": "unknown txId"})
    assert redis_client.keys("stripay:order:*") == []


async def test_other_order_under_the_same_txid_is_never_success(client, sim, redis_client) -> None:
    tx_id, order_id, _page = await new_transaction(client)
    other = sim.create_order(merchantOrderId=tx_id, amount=0.01, status="completed")
    response = await ok_page(client, tx_id)
    assert response.status == 409
    assert await response.json() == {"status": 0, "desc": "order does not match the transaction (order id)",
                                     "details": {"txId": tx_id}}
    assert other["id"] != order_id


@pytest.mark.parametrize("tx_id", ["abc", "12a", "-5", "1" * 33, ""])
async def test_malformed_txid_is_refused(client, sim, tx_id) -> None:
    response = await ok_page(client, tx_id)
    body = await response.json()
    assert response.status == 400
    assert body["status"] == 0 and body["desc"].startswith("txId")


async def test_missing_txid_is_refused(client, sim) -> None:
    response = await client.get(OK_PAGE)
    assert (response.status, await response.json()) == (400, {"status": 0, "desc": "txId is required"})


async def test_txid_posted_as_a_form_is_read(client, sim) -> None:
    tx_id, _order_id, page_url = await new_transaction(client)
    await checkout(page_url, "success")
    response = await client.post(OK_PAGE, data={"txId": tx_id})
    body = await response.json()
    assert (response.status, body["status"], body["details"]["txId"]) == (200, 1, tx_id)


async def test_stripay_down_answers_pending_and_enqueues_a_reconcile_job(
    client, sim, redis_client, billrun_settings
) -> None:
    sim.set_notify_mode("drop")  # only the job enqueued by the return may bring the order in
    tx_id, order_id, page_url = await new_transaction(client)
    await checkout(page_url, "success")
    sim.set_fault("/v1/order", status=503)

    response = await ok_page(client, tx_id)
    assert (response.status, await response.json()) == (202, {"status": 0, "desc": "pending",
                                                                "details": view(tx_id, order_id, None)})
    assert OrderStore(redis_client).get(order_id) is None
    [job_id] = rq_queue(redis_client).job_ids
    job = Job.fetch(job_id, connection=redis_client, serializer=JSONSerializer)
    assert job.func_name == "worker.jobs.reconcile_notification"
    assert (job.args[0]["id"], job.args[2]) == (order_id, "return")

    sim.clear_faults()
    with worker_context(billrun_settings):
        run_jobs(redis_client)
    stored = OrderStore(redis_client).get(order_id)
    assert (stored.status, stored.state) == ("completed", api_view(sim.order(order_id)))
    assert transitions(redis_client) == [(order_id, "", "completed", "return")]


async def test_repeated_returns_while_stripay_is_down_enqueue_one_job(start, billrun_settings, sim,
                                                                     redis_client) -> None:
    # Every return asks Stripay here (no lookup interval), so only the requeue guard keeps it to one job.
    client = await start(replace(billrun_settings, billrun=replace(billrun_settings.billrun, lookup_interval_s=0.001)))
    tx_id, _order_id, _page = await new_transaction(client)
    sim.set_fault("/v1/order", status=503)
    answers = [await (await ok_page(client, tx_id)).json() for _ in range(3)]
    assert [a["desc"] for a in answers] == ["pending"] * 3
    assert rq_queue(redis_client).count == 1


async def test_stripay_too_slow_answers_pending(start, billrun_settings, sim, redis_client) -> None:
    client = await start(replace(billrun_settings, api_timeout_s=0.3))
    tx_id, order_id, _page = await new_transaction(client)
    sim.set_fault("/v1/order", timeout=True)
    response = await ok_page(client, tx_id)
    assert (response.status, await response.json()) == (202, {"status": 0, "desc": "pending",
                                                                "details": view(tx_id, order_id, None)})
    assert rq_queue(redis_client).count == 1


async def test_stripay_down_with_the_order_id_unknown_answers_pending_and_enqueues_nothing(
    client, sim, redis_client
) -> None:
    sim.set_fault("/v1/order", status=503)  # getRequest cannot learn the order id either
    tx_id, order_id, _page = await new_transaction(client)
    assert order_id is None
    response = await ok_page(client, tx_id)
    assert (await response.json())["desc"] == "pending"
    assert rq_queue(redis_client).count == 0


async def test_return_learns_the_order_id_when_getrequest_could_not(client, sim, redis_client) -> None:
    sim.set_fault("/v1/order", status=503)
    tx_id, _order_id, _page = await new_transaction(client)
    sim.clear_faults()
    await ok_page(client, tx_id)
    assert redis_client.hget(record_key(tx_id), "order_id") == b"1"


async def test_browser_is_sent_to_the_ok_page_with_the_verified_result(client, sim) -> None:
    tx_id, _order_id, page_url = await new_transaction(client)
    await checkout(page_url, "success")
    response = await ok_page(client, tx_id, headers=BROWSER)
    assert response.status == 302
    assert response.headers["Location"] == f"{OK_PAGE_URL}?txId={tx_id}&status=completed"


async def test_browser_is_sent_to_the_fail_page_when_not_paid(client, sim) -> None:
    tx_id, _order_id, _page = await new_transaction(client)
    response = await ok_page(client, tx_id, headers=BROWSER)
    assert response.status == 302
    location = response.headers["Location"]
    assert location.startswith(FAIL_PAGE_URL + "&")
    assert query_of(location) == {"lang": "en", "txId": tx_id, "status": "pending"}


async def test_browser_is_sent_to_the_fail_page_while_stripay_is_down(client, sim) -> None:
    tx_id, _order_id, page_url = await new_transaction(client)
    await checkout(page_url, "success")
    sim.set_fault("/v1/order", status=503)
    response = await ok_page(client, tx_id, headers=BROWSER)
    assert response.status == 302
    assert query_of(response.headers["Location"])["status"] == "pending"
