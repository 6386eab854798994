"""Two changes within one second of Stripay's clock, through the real stack, with workers racing.

The simulator dates every change of an order with the order's current ``updatedAt``
(``/_sim/updated-at`` mode ``same``), so each order's ``completed`` and ``refunded``
carry one ``updatedAt``: nothing in the answers says which is newer. Two worker
processes (two pools) run every notification's job plus one extra job for it (as a
replay would), and the API answers after 20 ms, so reads of one order overlap.

* stored first: every order completed and applied, then refunded at the same second;
  the refund must be applied (history completed, refunded), never dropped as stale;
* racing: refunded 0 to 50 ms after completed, while the completed jobs run;
* newest first: both notifications held and released refunded first.

Every order must end refunded at its one ``updatedAt``, the history and the
transitions stream must only move forwards (completed before refunded, never back),
no job may fail, and no notification may count as a mismatch (each is Stripay's own). Nothing is recovered by the test: the workers do it all.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest

from shared.jobs import enqueue, reconcile_job
from tests.proof.harness import Stack, periodic, scrape
from tests.proof.order_checks import failed_jobs, history, published, store_matches, summary, wait_applied

ORDERS_PER_GROUP = 20
PAIR = ("completed", "refunded")


@pytest.mark.slow
def test_same_second_pairs_are_both_kept_in_order_with_workers_racing(log_dir: Path) -> None:
    started = time.monotonic()
    with Stack("same second", log_dir, time_scale=1000) as stack:
        assert stack.receiver is not None and stack.redis is not None
        stack.start_pool(1)
        stack.start_pool(1)
        sim = stack.sim
        sim.set_updated_at_mode("same")
        sim.set_fault("/v1/order", latency_s=0.02)
        notify_url = stack.receiver.notify_url
        groups = {name: [sim.create_order(notifyUrl=notify_url)["id"] for _ in range(ORDERS_PER_GROUP)]
                  for name in ("stored_first", "racing", "newest_first")}
        every_order = [order_id for ids in groups.values() for order_id in ids]
        seen: set[tuple[Any, ...]] = set()
        extra = 0

        def enqueue_extra_jobs() -> None:
            nonlocal extra
            for entry in sim.deliveries():
                key = (entry["order_id"], entry["status"], entry["payload"]["updatedAt"])
                if entry["ok"] and key not in seen:
                    seen.add(key)
                    enqueue(stack.redis, reconcile_job(entry["payload"], time.time(), stack.settings))
                    extra += 1

        rng = random.Random(21)
        with periodic(enqueue_extra_jobs, 0.05):
            for order_id in groups["stored_first"]:
                sim.set_status(order_id, "completed")
            stack.wait_deliveries_done(60)
            wait_applied(stack, groups["stored_first"])
            for order_id in groups["stored_first"]:
                sim.set_status(order_id, "refunded")

            for order_id in groups["racing"]:
                sim.set_status(order_id, "completed")
                time.sleep(rng.uniform(0, 0.05))
                sim.set_status(order_id, "refunded")

            sim.set_notify_mode("out_of_order")
            for order_id in groups["newest_first"]:
                for status in PAIR:
                    sim.set_status(order_id, status)
            sim.set_notify_mode("normal")
            sim.release()
            stack.wait_deliveries_done(60)
            recovery_s = wait_applied(stack, every_order)
        enqueue_extra_jobs()
        recovery_s += wait_applied(stack, every_order)

        for order_id in every_order:
            truth = sim.order(order_id)
            assert truth["status"] == "refunded" and truth["updatedAt"] == truth["createdAt"]
        assert not store_matches(stack, every_order)
        moves = published(stack.redis)
        for order_id in every_order:
            kept = history(stack, order_id)
            assert kept == [status for status in PAIR if status in kept], (order_id, kept)  # forwards only
            assert moves[order_id] == kept
        for order_id in groups["stored_first"]:
            assert history(stack, order_id) == list(PAIR)
        assert failed_jobs(stack.redis) == []
        outcomes = [scrape(pool.metrics_url, "stripay_reconcile_total", "outcome") or {} for pool in stack.pools]
        mismatches = sum(found.get("mismatch", 0.0) for found in outcomes)
        assert sum(found.get("applied", 0.0) for found in outcomes) >= len(every_order), outcomes  # read them
        assert mismatches == 0, "a genuine change of the same second was counted as a mismatch"
        both_kept = sum(history(stack, order_id) == list(PAIR) for order_id in every_order)
        summary("same second", started, orders=len(every_order), pairs=len(every_order), both_kept=both_kept,
                extra_jobs=extra, workers=2, mismatches=int(mismatches), settled_s=recovery_s)
