"""Two changes in one second of Stripay's clock (equal updatedAt): both kept, never backwards, even racing."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import replace
from typing import Any

import redis

from shared.order import Order
from shared.order_apply import apply_verified
from shared.order_store import OrderStore
from tests.support.metrics import changes, samples
from tests.support.payloads import signed
from tests.support.worker import failed_ids, run_jobs, scheduled_ids, worker_context
from tests.worker.test_reconcile import enqueue, transitions
from worker.context import WorkerContext
from worker.fetch import fetch_order, merchant_of
from worker.reconcile import reconcile
from worker.sweep import sweep

TIES = [("stripay_same_second_ties_total", {})]
SEQUENCE = ("completed", "disputed", "refunded")  # pending first; every change at one updatedAt


def notification(order: dict[str, Any]) -> dict[str, Any]:
    return signed({k: v for k, v in order.items() if k not in ("sign", "notifyUrl")})


def statuses(ctx: WorkerContext, order_id: int) -> list[str]:
    return [entry["to"] for entry in ctx.store.get(order_id).history]


def test_refunded_in_the_same_second_as_completed_is_applied(ctx, sim) -> None:
    sim.set_updated_at_mode("same")
    order = sim.create_order()
    completed = sim.set_status(order["id"], "completed")
    enqueue(ctx, notification(completed))
    run_jobs(ctx.redis)
    refunded = sim.set_status(order["id"], "refunded")
    assert refunded["updatedAt"] == completed["updatedAt"]
    enqueue(ctx, notification(refunded))
    run_jobs(ctx.redis)
    assert ctx.store.get(order["id"]).status == "refunded"
    assert statuses(ctx, order["id"]) == ["completed", "refunded"]
    assert transitions(ctx.redis) == [(order["id"], "", "completed"), (order["id"], "completed", "refunded")]


def test_delivered_newest_first_ends_on_the_newest_and_never_goes_back(ctx, sim) -> None:
    sim.set_updated_at_mode("same")
    order = sim.create_order()
    completed = sim.set_status(order["id"], "completed")
    refunded = sim.set_status(order["id"], "refunded")
    enqueue(ctx, notification(refunded))
    enqueue(ctx, notification(completed))
    run_jobs(ctx.redis)
    assert failed_ids(ctx.redis) == []
    assert statuses(ctx, order["id"]) == ["refunded"]


def test_a_cached_answer_with_another_status_at_the_same_second_does_not_stand_in(ctx, sim) -> None:
    sim.set_updated_at_mode("same")
    with worker_context(replace(ctx.settings, coalesce_s=3600.0)) as long_cache:
        order = sim.create_order()
        completed = sim.set_status(order["id"], "completed")
        reconcile(long_cache, notification(completed), 0.0)  # its answer is cached for an hour
        refunded = sim.set_status(order["id"], "refunded")
        merchant = merchant_of(notification(refunded))  # the cache entries are the merchant's
        fetched = fetch_order(long_cache, order["id"], completed and long_cache.store.get(order["id"]).updated_ms,
                              "refunded", merchant)
        assert (fetched.coalesced, fetched.order.status) == (False, "refunded")
        reconcile(long_cache, notification(refunded), 0.0)  # its answer is cached with its apply
        assert long_cache.store.get(order["id"]).status == "refunded"
        # The same status at the same second may still share the cached answer.
        again = fetch_order(long_cache, order["id"], fetched.order.updated_ms, "refunded", merchant)
        assert again.coalesced


def test_an_overlapping_read_that_answered_last_is_read_again_not_dropped(ctx, sim) -> None:
    """Read 1 begins, read 2 begins and answers completed, then the order is refunded within the
    same second and read 1 answers refunded. The later-begun read is the older answer here, so
    neither read order nor answer order decides: the worker reads again and ends refunded."""
    sim.set_updated_at_mode("same")
    order = sim.create_order()
    sim.set_status(order["id"], "completed")
    key = ctx.settings.api_key_for(None)
    first = ctx.store.begin_fetch(order["id"])
    second = ctx.store.begin_fetch(order["id"])
    assert ctx.store.apply(ctx.stripay.order(key, order_id=order["id"]), "notify", fetch_seq=second).outcome == "applied"
    refunded = sim.set_status(order["id"], "refunded")
    answer = ctx.stripay.order(key, order_id=order["id"])
    assert ctx.store.apply(answer, "notify", fetch_seq=first).outcome == "tie"
    before = samples(*TIES)
    result = reconcile(ctx, notification(refunded), 0.0)
    assert (result["outcome"], ctx.store.get(order["id"]).status) == ("applied", "refunded")
    assert changes(before, samples(*TIES)) == [0]  # this read began after the stored one ended: no tie
    assert statuses(ctx, order["id"]) == ["completed", "refunded"]


def test_racing_workers_end_on_the_apis_state_and_never_go_back(ctx, sim) -> None:
    """Four threads reconcile notifications of 12 orders while the simulator changes each order three
    times within one second (equal updatedAt); the API answers slowly at random so reads overlap."""
    sim.set_updated_at_mode("same")
    sim.set_fault("/v1/order", latency_s=0.005)
    orders = [sim.create_order()["id"] for _ in range(12)]
    sent: list[dict[str, Any]] = []
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        mine = WorkerContext.create(replace(ctx.settings, coalesce_s=0.05))  # a worker of its own
        while not stop.is_set() or sent:
            with lock:
                payload = sent.pop(rng.randrange(len(sent))) if sent else None
            if payload is None:
                stop.wait(0.005)
                continue
            try:
                reconcile(mine, payload, 0.0)
            except BaseException as err:  # noqa: BLE001 - reported below
                errors.append(err)
        mine.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for status in SEQUENCE:
        for order_id in orders:
            changed = sim.set_status(order_id, status)
            with lock:
                sent.append(notification(changed))
                sent.append(notification(changed))  # a duplicate, as a retry would bring
            stop.wait(0.01)  # let the workers apply the states in between, racing with the next change
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    run_jobs(ctx.redis)  # rechecks the race scheduled
    assert failed_ids(ctx.redis) == []
    for order_id in orders:
        truth = sim.order(order_id)
        stored = OrderStore(ctx.redis).get(order_id)
        assert (stored.status, stored.updated_at) == (truth["status"], truth["updatedAt"]) == ("refunded",
                                                                                               truth["updatedAt"])
        history = statuses(ctx, order_id)
        assert history == [status for status in SEQUENCE if status in history], history  # forwards only


def test_an_unnumbered_read_that_ties_hands_the_order_to_a_reconcile(ctx, sim) -> None:
    """The ok page's lookup applies what it read without a read number; a tie it cannot
    order is settled by a reconcile job, whose reads are numbered."""
    sim.set_updated_at_mode("same")
    order = sim.create_order()
    sim.set_status(order["id"], "completed")
    key = ctx.settings.api_key_for(None)
    apply_verified(ctx.store, ctx.settings, ctx.stripay.order(key, order_id=order["id"]), "return", 0.0)
    sim.set_status(order["id"], "refunded")
    result = apply_verified(ctx.store, ctx.settings, ctx.stripay.order(key, order_id=order["id"]), "return", 0.0)
    assert (result.outcome, ctx.store.get(order["id"]).status) == ("tie", "completed")
    run_jobs(ctx.redis)
    assert statuses(ctx, order["id"]) == ["completed", "refunded"]


def test_a_notification_whose_same_second_state_was_applied_is_not_rechecked(ctx, sim) -> None:
    sim.set_updated_at_mode("same")
    order = sim.create_order()
    completed = sim.set_status(order["id"], "completed")
    reconcile(ctx, notification(completed), 0.0)
    sim.set_status(order["id"], "refunded")
    reconcile(ctx, notification(sim.order(order["id"])), 0.0)
    late = reconcile(ctx, notification(completed), 0.0)  # a retry of the completed notification
    assert late["outcome"] == "unchanged"
    assert scheduled_ids(ctx.redis) == []


MISMATCHES = [("stripay_reconcile_total", {"outcome": "mismatch"})]


def test_an_earlier_change_of_the_apis_second_is_neither_a_mismatch_nor_rechecked(ctx, sim) -> None:
    sim.set_updated_at_mode("same")
    order = sim.create_order()
    completed = sim.set_status(order["id"], "completed")
    sim.set_status(order["id"], "refunded")
    before = samples(*MISMATCHES)
    first = reconcile(ctx, notification(completed), 0.0)  # completed can lead to refunded: it moved on
    assert (first["outcome"], scheduled_ids(ctx.redis)) == ("applied", [])
    assert changes(before, samples(*MISMATCHES)) == [0]
    assert statuses(ctx, order["id"]) == ["refunded"]


def test_a_claim_the_apis_status_cannot_follow_is_a_mismatch_rechecked_but_never_failed(ctx, sim) -> None:
    """Refunded at the second the API shows completed: a forgery, or an API that has not caught
    up yet (refunded cannot lead back to completed). Counted once, rechecked, not failed."""
    sim.set_updated_at_mode("same")
    order = sim.create_order()
    completed = sim.set_status(order["id"], "completed")
    before = samples(*MISMATCHES)
    result = reconcile(ctx, notification({**completed, "status": "refunded"}), 0.0)
    assert (result["status"], len(scheduled_ids(ctx.redis))) == ("completed", 1)
    run_jobs(ctx.redis)
    assert failed_ids(ctx.redis) == []
    assert changes(before, samples(*MISMATCHES)) == [1]
    assert statuses(ctx, order["id"]) == ["completed"]


def test_sweep_finds_an_order_stored_at_the_same_second_in_another_status(ctx, sim) -> None:
    sim.set_updated_at_mode("same")
    sim.set_notify_mode("drop")
    order = sim.create_order()
    reconcile(ctx, notification(sim.set_status(order["id"], "completed")), 0.0)
    sim.set_status(order["id"], "refunded")  # its notification never arrives
    result = sweep(ctx.redis, ctx.stripay, ctx.settings, since_s=3600)
    assert [(c.order_id, c.stored_status, c.api_status) for c in result.behind] == [
        (order["id"], "completed", "refunded")]
    run_jobs(ctx.redis)
    assert statuses(ctx, order["id"]) == ["completed", "refunded"]


def test_a_job_whose_read_overlapped_the_stored_ones_reads_again_and_counts_the_tie(ctx, sim) -> None:
    """The job's read is slow; while it waits, another worker's read begins and stores completed
    (the order is refunded by then at the same second, but that read was answered before).
    The job's answer (refunded) ties with a read it overlapped: it reads again and applies it."""
    sim.set_updated_at_mode("same")
    order = sim.create_order()
    completed = sim.set_status(order["id"], "completed")
    earlier_answer = Order.from_api({k: v for k, v in completed.items() if k != "notifyUrl"})
    refunded = sim.set_status(order["id"], "refunded")
    sim.set_fault("/v1/order", latency_s=0.5)

    def other_worker() -> None:
        time.sleep(0.2)  # the job's read has begun
        client = redis.Redis.from_url(ctx.settings.redis_url)
        store = OrderStore(client)
        store.apply(earlier_answer, "notify", fetch_seq=store.begin_fetch(order["id"]))
        client.close()

    before = samples(*TIES)
    racer = threading.Thread(target=other_worker)
    racer.start()
    result = reconcile(ctx, notification(refunded), 0.0)
    racer.join()
    assert (result["outcome"], result["status"]) == ("applied", "refunded")
    assert statuses(ctx, order["id"]) == ["completed", "refunded"]
    assert changes(before, samples(*TIES)) == [1]


def test_whole_second_timestamps_as_stripay_writes_them_keep_both_changes(ctx, sim) -> None:
    sim.set_updated_at_mode("whole_seconds")
    order = sim.create_order()
    completed = sim.set_status(order["id"], "completed")
    reconcile(ctx, notification(completed), 0.0)
    refunded = sim.set_status(order["id"], "refunded")  # most likely within the same second
    assert completed["updatedAt"].endswith(".000Z") and refunded["updatedAt"] >= completed["updatedAt"]
    reconcile(ctx, notification(refunded), 0.0)
    assert statuses(ctx, order["id"]) == ["completed", "refunded"]
