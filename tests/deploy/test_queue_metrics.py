"""The queue collector, read against a real redis-server through a CollectorRegistry."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import redis
from prometheus_client import CollectorRegistry, generate_latest
from rq import Queue, Worker
from rq.executions import Execution
from rq.registry import FailedJobRegistry, StartedJobRegistry
from rq.serializers import JSONSerializer
from rq.utils import now as utcnow
from rq.utils import utcformat

from shared.embedded_redis import EmbeddedRedis, free_port
from shared.notification_enqueuer import NotificationEnqueuer
from shared.jobs import QUEUE_NAME, RECONCILE_JOB
from shared.keys import REJECTED_STREAM
from shared.queue_metrics import (
    QueueCollector,
    queue_client_factory,
    register_queue_collector,
    scrape_client,
    unregister_queue_collector,
)
from shared.settings import Settings
from tests.support.payloads import order_payload


def scrape(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    samples = {}
    for family in registry.collect():
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def jobs(samples: dict, state: str) -> float:
    return samples[("stripay_queue_jobs", (("state", state),))]


@pytest.fixture
def registry(redis_url: str) -> CollectorRegistry:
    registry = CollectorRegistry()
    register_queue_collector(queue_client_factory(redis_url), registry)
    yield registry
    unregister_queue_collector(registry)


@pytest.fixture
def queue(redis_client: redis.Redis) -> Queue:
    return Queue(QUEUE_NAME, connection=redis_client, serializer=JSONSerializer)


def test_empty_redis_exports_zeros_and_redis_up(registry) -> None:
    samples = scrape(registry)
    assert samples == {
        ("stripay_queue_jobs", (("state", "queued"),)): 0,
        ("stripay_queue_jobs", (("state", "scheduled"),)): 0,
        ("stripay_queue_jobs", (("state", "started"),)): 0,
        ("stripay_queue_jobs", (("state", "failed"),)): 0,
        ("stripay_queue_oldest_age_seconds", ()): 0,
        ("stripay_rejected_notifications", ()): 0,
        ("stripay_workers", ()): 0,
        ("stripay_redis_up", ()): 1,
    }


def test_queued_jobs_and_age_of_the_oldest(registry, redis_client, settings: Settings, queue: Queue) -> None:
    events = NotificationEnqueuer(redis_client, settings)
    first = events.enqueue(order_payload(1), time.time())
    events.enqueue(order_payload(2), time.time())
    # The receiver stamped enqueued_at with "now"; pretend the first job has waited 90 s.
    redis_client.hset(f"rq:job:{first.job_id}", "enqueued_at", utcformat(utcnow() - timedelta(seconds=90)))

    samples = scrape(registry)
    assert jobs(samples, "queued") == queue.count == 2
    assert 89 <= samples[("stripay_queue_oldest_age_seconds", ())] < 100


def test_oldest_age_skips_a_queued_id_whose_job_hash_is_gone(registry, redis_client, settings) -> None:
    events = NotificationEnqueuer(redis_client, settings)
    gone = events.enqueue(order_payload(1), time.time())
    kept = events.enqueue(order_payload(2), time.time())
    redis_client.delete(f"rq:job:{gone.job_id}")
    redis_client.hset(f"rq:job:{kept.job_id}", "enqueued_at", utcformat(utcnow() - timedelta(seconds=30)))
    assert 29 <= scrape(registry)[("stripay_queue_oldest_age_seconds", ())] < 40


def test_scheduled_started_and_failed_counts_come_from_rq_registries(registry, queue: Queue) -> None:
    queue.enqueue_in(timedelta(minutes=5), RECONCILE_JOB, order_payload(1), 0.0)
    running = queue.enqueue(RECONCILE_JOB, order_payload(2), 0.0)
    failed = queue.enqueue(RECONCILE_JOB, order_payload(3), 0.0)
    queue.remove(running)
    queue.remove(failed)
    with queue.connection.pipeline() as pipe:
        Execution.create(running, ttl=60, pipeline=pipe)
        pipe.execute()
    FailedJobRegistry(queue=queue).add(failed, ttl=3600, exc_string="boom")

    samples = scrape(registry)
    assert (jobs(samples, "queued"), jobs(samples, "scheduled"), jobs(samples, "started"), jobs(samples, "failed")) == (
        0, 1, 1, 1,
    )


def test_a_scrape_writes_nothing_even_for_an_abandoned_started_job(registry, queue: Queue, redis_client) -> None:
    # StartedJobRegistry.count would run cleanup: move the job to failed and run
    # its failure callbacks. A scrape must leave that to the workers.
    job = queue.enqueue(RECONCILE_JOB, order_payload(1), 0.0)
    queue.remove(job)
    with queue.connection.pipeline() as pipe:
        Execution.create(job, ttl=60, pipeline=pipe)
        pipe.execute()
    started = StartedJobRegistry(queue=queue)
    (member,) = redis_client.zrange(started.key, 0, -1)
    redis_client.zadd(started.key, {member: time.time() - 3600})  # its worker died an hour ago
    before = {key: redis_client.dump(key) for key in redis_client.keys("*")}

    samples = scrape(registry)

    assert (jobs(samples, "started"), jobs(samples, "failed")) == (1, 0)
    assert {key: redis_client.dump(key) for key in redis_client.keys("*")} == before


def test_rejected_counts_the_quarantine_stream(registry, redis_client) -> None:
    for n in range(3):
        redis_client.xadd(REJECTED_STREAM, {"body": b"{}", "reason": f"bad sign {n}"})
    assert scrape(registry)[("stripay_rejected_notifications", ())] == 3


def test_workers_counts_live_workers_only(registry, redis_client, queue: Queue) -> None:
    worker = Worker([queue], connection=redis_client, serializer=JSONSerializer, name="w1")
    worker.register_birth()
    # A worker that was SIGKILLed stays registered on the queue but its key expires.
    redis_client.sadd(f"rq:workers:{QUEUE_NAME}", "rq:worker:killed-long-ago")
    assert Worker.count(queue=queue) == 2
    assert scrape(registry)[("stripay_workers", ())] == 1
    worker.register_death()
    assert scrape(registry)[("stripay_workers", ())] == 0


def test_unreachable_redis_exports_only_redis_up_zero_quickly() -> None:
    registry = CollectorRegistry()
    register_queue_collector(queue_client_factory(f"redis://127.0.0.1:{free_port()}/0"), registry)
    started = time.monotonic()
    assert scrape(registry) == {("stripay_redis_up", ()): 0}
    assert time.monotonic() - started < 3
    assert b"stripay_redis_up 0.0" in generate_latest(registry)


def test_redis_going_away_and_coming_back(registry, redis_server: EmbeddedRedis, redis_client) -> None:
    assert scrape(registry)[("stripay_redis_up", ())] == 1
    redis_server.stop(kill=True)
    try:
        assert scrape(registry) == {("stripay_redis_up", ()): 0}
    finally:
        redis_server.start()
    assert scrape(registry)[("stripay_redis_up", ())] == 1


def test_a_redis_error_reply_is_redis_down_too(registry, redis_client) -> None:
    redis_client.set(f"rq:queue:{QUEUE_NAME}", "not a list")  # WRONGTYPE on LLEN
    assert scrape(registry) == {("stripay_redis_up", ()): 0}


def test_a_failing_factory_is_redis_down_not_an_exception() -> None:
    def factory() -> redis.Redis:
        raise redis.exceptions.ConnectionError("no such host")

    registry = CollectorRegistry()
    register_queue_collector(factory, registry)
    assert scrape(registry) == {("stripay_redis_up", ()): 0}


def test_registering_never_touches_redis_and_is_idempotent(redis_url: str) -> None:
    calls = []

    def factory() -> redis.Redis:
        calls.append(1)
        return scrape_client(redis_url)

    registry = CollectorRegistry(auto_describe=True)
    first = register_queue_collector(factory, registry)
    assert calls == []  # describe() names the gauges without a Redis call
    assert register_queue_collector(factory, registry) is first
    scrape(registry)
    scrape(registry)
    assert calls == [1]  # one client, reused
    other = queue_client_factory(redis_url)
    assert queue_client_factory(redis_url) is other
    assert register_queue_collector(other, registry) is first  # same collector, new factory
    assert scrape(registry)[("stripay_redis_up", ())] == 1
    assert isinstance(first, QueueCollector)
