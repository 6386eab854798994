"""Several merchants: every API call with the order's merchant's key, and no merchant changes another's order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from rq.job import Job
from rq.serializers import JSONSerializer

from shared.keys import api_cache_key
from shared.settings import Settings
from tests.support.merchants import KEY_B, MERCHANT_A, MERCHANT_B, MERCHANTS
from tests.support.payloads import MERCHANT_KEY, signed
from tests.support.simulator import SimulatorThread
from tests.support.worker import failed_ids, run_jobs, worker_context
from worker.context import WorkerContext
from worker.reconcile import reconcile
from worker.sweep import sweep
from tests.worker.test_reconcile import enqueue, transitions


@pytest.fixture(scope="module")
def two_merchant_sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(key=MERCHANT_KEY, other_merchants=((MERCHANT_B, KEY_B),)) as sim:
        yield sim


@pytest.fixture
def msim(two_merchant_sim: SimulatorThread) -> SimulatorThread:
    two_merchant_sim.reset()
    return two_merchant_sim


@pytest.fixture
def mctx(worker_settings: Settings, msim: SimulatorThread) -> Iterator[WorkerContext]:
    """A worker configured with both merchants (only STRIPAY_MERCHANTS_FILE, no STRIPAY_MERCHANT_KEY)."""
    settings = replace(worker_settings, api_url=msim.url, merchant_keys=(), merchants=MERCHANTS)
    with worker_context(settings) as context:
        yield context


def notification(order: dict[str, Any], key: str) -> dict[str, Any]:
    return signed({k: v for k, v in order.items() if k not in ("sign", "notifyUrl")}, key)


def test_each_merchants_order_is_read_with_its_own_key(mctx, msim) -> None:
    a = msim.create_order(status="completed")
    b = msim.create_order(merchantId=MERCHANT_B, status="completed")
    enqueue(mctx, notification(b, KEY_B))
    enqueue(mctx, notification(a, MERCHANT_KEY))
    run_jobs(mctx.redis)
    assert failed_ids(mctx.redis) == []
    assert sorted(transitions(mctx.redis)) == [(a["id"], "", "completed"), (b["id"], "", "completed")]
    assert mctx.store.get(b["id"]).state["merchantId"] == MERCHANT_B


def test_a_notification_signed_by_b_naming_as_order_changes_nothing(mctx, msim) -> None:
    a = msim.create_order(status="completed")
    forged = notification({**a, "merchantId": MERCHANT_B, "status": "refunded"}, KEY_B)
    job_id = enqueue(mctx, forged)
    run_jobs(mctx.redis)
    assert mctx.store.get(a["id"]) is None
    # B's key cannot read A's order: to Stripay it is an unknown order, forgery noise, not a failure.
    assert failed_ids(mctx.redis) == []
    assert Job.fetch(job_id, connection=mctx.redis, serializer=JSONSerializer).return_value()["outcome"] == \
        "unknown_order"


def test_an_answer_of_another_merchant_is_refused_even_from_the_cache(mctx, msim) -> None:
    a = msim.create_order(status="completed")
    reconcile(mctx, notification(a, MERCHANT_KEY), 0.0)  # caches A's answer
    msim.set_status(a["id"], "refunded")
    # B's key and merchantId, A's order id: neither the API (404) nor A's cached answer may apply.
    # To B's key the order does not exist: the notification ends as an unknown order, nothing applied.
    result = reconcile(mctx, notification({**a, "merchantId": MERCHANT_B, "status": "refunded",
                                           "updatedAt": msim.order(a["id"])["updatedAt"]}, KEY_B), 0.0)
    assert result["outcome"] == "unknown_order"
    assert mctx.store.get(a["id"]).status == "completed"


def test_an_api_answer_naming_another_merchant_than_the_notification_is_refused(mctx, msim) -> None:
    # Merchant 9 is not configured, so its notifications verify (and are read) with the default key,
    # which is merchant 1's: the answer names merchant 1, not 9.
    settings = replace(mctx.settings, merchant_keys=(MERCHANT_KEY,))
    a = msim.create_order(status="completed")
    with worker_context(settings) as fallback:
        with pytest.raises(Exception, match="belongs to merchant 1"):
            reconcile(fallback, notification({**a, "merchantId": 9}, MERCHANT_KEY), 0.0)
        assert fallback.store.get(a["id"]) is None


def test_a_refused_answer_is_cached_like_any_other(mctx, msim) -> None:
    """The answer cache is written with the apply; an answer refused before it is cached too."""
    settings = replace(mctx.settings, merchant_keys=(MERCHANT_KEY,))
    a = msim.create_order(status="completed")
    with worker_context(settings) as fallback:
        with pytest.raises(Exception, match="belongs to merchant 1"):
            reconcile(fallback, notification({**a, "merchantId": 9}, MERCHANT_KEY), 0.0)
        cached = fallback.redis.get(api_cache_key(a["id"], "9"))
        assert cached is not None and json.loads(cached)["order"]["merchantId"] == MERCHANT_A


def test_rotation_reads_with_the_merchants_first_key(mctx, msim) -> None:
    assert mctx.settings.api_key_for(MERCHANT_B) == KEY_B
    assert mctx.settings.api_key_for(str(MERCHANT_A)) == MERCHANT_KEY


def test_sweep_pages_every_merchant_with_its_key(mctx, msim) -> None:
    msim.set_notify_mode("drop")
    a = msim.create_order(status="completed")
    b = msim.create_order(merchantId=MERCHANT_B, status="refunded")
    result = sweep(mctx.redis, mctx.stripay, mctx.settings, since_s=3600)
    assert result.merchants == 2
    assert sorted((c.order_id, c.merchant_id) for c in result.behind) == [
        (a["id"], str(MERCHANT_A)), (b["id"], str(MERCHANT_B))]
    run_jobs(mctx.redis)
    assert failed_ids(mctx.redis) == []
    assert mctx.store.get(b["id"]).status == "refunded"
    assert sweep(mctx.redis, mctx.stripay, mctx.settings, since_s=3600).behind == []


def test_sweep_of_one_merchant_lists_only_its_orders(mctx, msim) -> None:
    msim.create_order(status="completed")
    b = msim.create_order(merchantId=MERCHANT_B, status="completed")
    result = sweep(mctx.redis, mctx.stripay, mctx.settings, since_s=3600, dry_run=True, merchant_id=str(MERCHANT_B))
    assert [c.order_id for c in result.behind] == [b["id"]]
