"""The one apply path: history source, delivery job and metrics, blocking and async alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
import redis
import redis.asyncio
from rq.job import Job
from rq.serializers import JSONSerializer

from shared.jobs import RQ_QUEUE_KEY
from shared.order import Order
from shared.order_apply import apply_verified, apply_verified_async
from shared.order_store import AsyncOrderStore, OrderStore
from shared.settings import Settings
from tests.support.metrics import changes, samples

SERIES = [("stripay_order_transitions_total", {"from": "none", "to": "completed"}),
          ("stripay_order_transitions_total", {"from": "completed", "to": "refunded"}),
          ("stripay_end_to_end_seconds_count", {})]


def api_order(status: str, updated_at: str) -> Order:
    return Order.from_api({"id": 5, "status": status, "updatedAt": updated_at, "amount": 1.99, "currency": "USD",
                           "merchantOrderId": "m-5"})


COMPLETED = api_order("completed", "2023-01-10T03:43:37.000Z")
REFUNDED = api_order("refunded", "2023-01-12T08:00:00.000Z")


@pytest.fixture
async def async_store(redis_url: str) -> AsyncIterator[AsyncOrderStore]:
    client = redis.asyncio.Redis.from_url(redis_url)
    yield AsyncOrderStore(client)
    await client.aclose()


def test_blocking_apply_counts_each_applied_transition_once(redis_client: redis.Redis, settings: Settings) -> None:
    store = OrderStore(redis_client)
    before = samples(*SERIES)
    results = [apply_verified(store, settings, order, "notify", 0.0) for order in (COMPLETED, COMPLETED, REFUNDED)]
    assert [r.outcome for r in results] == ["applied", "unchanged", "applied"]
    assert changes(before, samples(*SERIES)) == [1, 1, 2]


async def test_async_apply_counts_each_applied_transition_once(async_store, redis_client, settings) -> None:
    before = samples(*SERIES)
    results = [await apply_verified_async(async_store, settings, order, "return", 0.0)
               for order in (REFUNDED, COMPLETED)]
    assert [r.outcome for r in results] == ["applied", "stale"]
    assert changes(before, samples(*SERIES)) == [0, 0, 1]
    stored = OrderStore(redis_client).get(5)
    assert (stored.status, stored.source) == ("refunded", "return")


async def test_async_apply_writes_the_delivery_job_with_the_transition(async_store, redis_client, settings) -> None:
    with_target = replace(settings, forward_url="http://127.0.0.1:9/hook")
    result = await apply_verified_async(async_store, with_target, COMPLETED, "return", 0.0)
    assert [job_id.decode() for job_id in redis_client.lrange(RQ_QUEUE_KEY, 0, -1)] == [f"deliver-{result.event_id}"]
    job = Job.fetch(f"deliver-{result.event_id}", connection=redis_client, serializer=JSONSerializer)
    assert job.args == [5, result.event_id]


REFUNDED_SAME_SECOND = api_order("refunded", "2023-01-10T03:43:37.000Z")


async def test_async_same_second_tie_hands_the_order_to_a_reconcile_job(async_store, redis_client, settings) -> None:
    await apply_verified_async(async_store, settings, COMPLETED, "return", 0.0)
    result = await apply_verified_async(async_store, settings, REFUNDED_SAME_SECOND, "return", 0.0)
    assert result.outcome == "tie"
    assert OrderStore(redis_client).get(5).status == "completed"
    [job_id] = [job_id.decode() for job_id in redis_client.lrange(RQ_QUEUE_KEY, 0, -1)]
    job = Job.fetch(job_id, connection=redis_client, serializer=JSONSerializer)
    assert job.func_name == "worker.jobs.reconcile_notification"
    assert (job.args[0]["id"], job.args[2]) == (5, "return")


def test_blocking_same_second_tie_without_a_read_number_hands_the_order_to_a_reconcile_job(redis_client,
                                                                                          settings) -> None:
    store = OrderStore(redis_client)
    apply_verified(store, settings, COMPLETED, "notify", 0.0)
    assert apply_verified(store, settings, REFUNDED_SAME_SECOND, "notify", 0.0).outcome == "tie"
    assert redis_client.llen(RQ_QUEUE_KEY) == 1
