"""Two merchants through the real stack: each served with its own key, end to end.

The simulator serves merchant 1 and merchant 2 (order ids counted across both,
each key sees its own orders only, each merchant's notifications signed with
its key). The receiver and the workers know both from ``STRIPAY_MERCHANTS_FILE``.

* orders of both merchants, their status changes interleaved;
* for each merchant one change whose notification is never delivered
  (dropped on every attempt), found by ``stripay-hooks orders sweep`` paging
  each merchant's ``/v1/orders`` with its key;
* a cross-merchant forgery: a notification correctly signed by merchant 2
  naming merchant 1's order as refunded. It is acknowledged (the signature is
  merchant 2's own) and changes nothing: merchant 2's key cannot read the
  order (Stripay answers 404), so the job ends as ``unknown_order`` (forgery
  noise: not a failed event);
* the same claim signed with merchant 2's key but naming merchant 1 as its
  merchant: refused 403 (merchant 1's keys do not verify it).
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from rq.job import Job
from rq.registry import FinishedJobRegistry
from rq.serializers import JSONSerializer

from shared.jobs import QUEUE_NAME
from shared.signature import sign
from tests.proof.harness import wait_until
from tests.proof.order_checks import (TwoMerchantStack, failed_jobs, history, published, run_cli, store_matches,
                                      summary, wait_applied)
from tests.proof.test_forgeries import post
from tests.support.merchants import KEY_B, MERCHANT_A, MERCHANT_B

ORDERS_PER_MERCHANT = 30


@pytest.mark.slow
def test_two_merchants_are_each_served_and_cannot_touch_each_others_orders(log_dir: Path, monkeypatch) -> None:
    started = time.monotonic()
    with TwoMerchantStack("two merchants", log_dir, time_scale=1000) as stack:
        monkeypatch.setenv("STRIPAY_MERCHANTS_FILE", str(stack.merchants_file))
        stack.start_pool()
        assert stack.receiver is not None
        notify_url = stack.receiver.notify_url
        rng = random.Random(13)

        orders = {merchant: [stack.sim.create_order(notifyUrl=notify_url, merchantId=merchant)["id"]
                             for _ in range(ORDERS_PER_MERCHANT)] for merchant in (MERCHANT_A, MERCHANT_B)}
        every_order = orders[MERCHANT_A] + orders[MERCHANT_B]
        steps = [(order_id, status) for order_id in every_order
                 for status in rng.choice((("completed",), ("completed", "refunded"), ("rejected",)))]
        rng.shuffle(steps)
        steps.sort(key=lambda step: step[1] == "refunded")  # a refund after its completion
        for order_id, status in steps:  # the merchants' changes interleaved
            stack.sim.set_status(order_id, status)
            time.sleep(0.01)

        # One change per merchant whose notification never arrives (once the earlier ones are
        # applied: a late job would otherwise read the order after the change and apply it).
        stack.wait_deliveries_done(60)
        wait_applied(stack, every_order)
        missed = [next(o for o in orders[m] if stack.sim.order(o)["status"] == "completed") for m in orders]
        stack.sim.set_notify_mode("drop")
        for order_id in missed:
            stack.sim.set_status(order_id, "disputed")
        stack.sim.set_notify_mode("normal")

        # Merchant 2 signs a claim about merchant 1's order.
        victim = next(o for o in orders[MERCHANT_A] if o not in missed and stack.sim.order(o)["status"] == "completed")
        claim = {**stack.sim.order(victim), "merchantId": MERCHANT_B, "status": "refunded"}
        claim.pop("notifyUrl", None)
        forged = {**claim, "sign": sign(claim, KEY_B)}
        assert post(notify_url, forged) == 200  # merchant 2's own signature: acknowledged
        disguised = {**claim, "merchantId": MERCHANT_A}
        assert post(notify_url, {**disguised, "sign": sign(disguised, KEY_B)}) == 403

        stack.wait_deliveries_done(60)
        wait_until("the queue to go quiet", stack.quiet, 60)
        behind_before_sweep = store_matches(stack, every_order)
        assert sorted(int(line.split()[1].rstrip(":")) for line in behind_before_sweep) == sorted(missed)

        swept = run_cli(stack, "orders", "sweep", "--since", "1h")
        assert swept["merchants"] == 2
        assert sorted((c["order_id"], c["merchant_id"]) for c in swept["orders"]) == sorted(
            (order_id, str(merchant)) for merchant, order_id in zip(orders, missed))
        recovery_s = wait_applied(stack, every_order)

        assert stack.redis is not None
        failed = failed_jobs(stack.redis)
        assert failed == [], [job.args for job in failed]
        assert unknown_order_jobs(stack.redis) == [victim]
        assert "refunded" not in history(stack, victim)
        moves = published(stack.redis)
        for order_id in every_order:
            assert moves[order_id] == history(stack, order_id)
        assert not store_matches(stack, every_order)
        summary("two merchants", started, orders=len(every_order), steps=len(steps), swept=len(swept["orders"]),
                forged_acknowledged=1, forged_refused=1, failed=len(failed), sweep_to_applied_s=recovery_s)


def unknown_order_jobs(client) -> list[int]:
    """Order ids of the finished jobs that ended as ``unknown_order``."""
    registry = FinishedJobRegistry(QUEUE_NAME, connection=client, serializer=JSONSerializer)
    jobs = Job.fetch_many(registry.get_job_ids(cleanup=False), connection=client, serializer=JSONSerializer)
    return [job.args[0].get("id") for job in jobs
            if job is not None and (job.return_value() or {}).get("outcome") == "unknown_order"]
