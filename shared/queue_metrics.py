"""Queue gauges read from Redis at scrape time: depth, age, failures, workers.

A custom Prometheus collector, registered explicitly (never at import time)
with :func:`register_queue_collector`. Each scrape costs two pipelined round
trips to Redis and writes nothing: RQ's registries are used for their key
names only, because ``BaseRegistry.count`` runs the registry's cleanup, which
for the started registry moves abandoned jobs to failed and runs failure
callbacks — not something a metrics scrape may do.

If Redis cannot be read, the scrape exports ``stripay_redis_up 0`` and nothing
else, and never raises: a scrape must not fail because Redis is down, and a
stale queue depth is worse than none.

``collect`` does blocking Redis I/O; from an asyncio server, run the
exposition in a thread (``asyncio.to_thread(generate_latest, REGISTRY)``).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import redis
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from rq import Queue
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.serializers import JSONSerializer
from rq.utils import utcparse
from rq.worker_registration import WORKERS_BY_QUEUE_KEY

from shared.jobs import QUEUE_NAME
from shared.keys import REJECTED_STREAM
from shared.logging import get_logger

log = get_logger("queue_metrics")

QUEUE_STATES = ("queued", "scheduled", "started", "failed")
SCRAPE_SOCKET_TIMEOUT_S = 1.0
SCRAPE_CONNECT_TIMEOUT_S = 0.5
OLDEST_PEEK = 10  # queue heads to look at when the first job hash is gone

RedisClientFactory = Callable[[], redis.Redis]

JOBS = "stripay_queue_jobs"
OLDEST_AGE = "stripay_queue_oldest_age_seconds"
REJECTED = "stripay_rejected_notifications"
WORKERS = "stripay_workers"
REDIS_UP = "stripay_redis_up"

HELP = {
    JOBS: f"Jobs of queue {QUEUE_NAME!r} by state (RQ queue and registries), read at scrape time.",
    OLDEST_AGE: "Age of the oldest queued job, from its enqueued_at; 0 when the queue is empty.",
    REJECTED: "Entries in the quarantine stream of notifications with a bad signature.",
    WORKERS: f"RQ workers alive (registered and heartbeating) on queue {QUEUE_NAME!r}.",
    REDIS_UP: "1 when the last scrape could read Redis, else 0 (and no other queue gauge).",
}


def scrape_client(url: str) -> redis.Redis:
    """A blocking client with short timeouts, so a scrape fails fast when Redis is away."""
    return redis.Redis.from_url(
        url,
        socket_timeout=SCRAPE_SOCKET_TIMEOUT_S,
        socket_connect_timeout=SCRAPE_CONNECT_TIMEOUT_S,
        health_check_interval=30,
    )


@functools.lru_cache(maxsize=8)
def queue_client_factory(url: str) -> RedisClientFactory:
    """The factory for ``url``: the same object on every call, so registering it again is a no-op."""
    return functools.partial(scrape_client, url)


class QueueCollector(Collector):
    def __init__(self, redis_client_factory: RedisClientFactory) -> None:
        self.factory = redis_client_factory
        self._client: redis.Redis | None = None
        self._lock = threading.Lock()
        self._was_up = True

    def replace_factory(self, redis_client_factory: RedisClientFactory) -> None:
        with self._lock:
            if redis_client_factory is self.factory:
                return
            old, self._client = self._client, None
            self.factory = redis_client_factory
        if old is not None:
            old.close()

    def _connection(self) -> redis.Redis:
        with self._lock:
            if self._client is None:
                self._client = self.factory()
            return self._client

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Names only, so registering never touches Redis.
        yield GaugeMetricFamily(JOBS, HELP[JOBS], labels=["state"])
        for name in (OLDEST_AGE, REJECTED, WORKERS, REDIS_UP):
            yield GaugeMetricFamily(name, HELP[name])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            values = self._read(self._connection())
        except Exception as err:  # noqa: BLE001 - a scrape never raises; Redis errors are the usual cause
            if self._was_up:
                log.warning("queue_metrics_redis_unreadable", error=type(err).__name__, detail=str(err)[:200])
            self._was_up = False
            yield GaugeMetricFamily(REDIS_UP, HELP[REDIS_UP], value=0)
            return
        self._was_up = True
        jobs = GaugeMetricFamily(JOBS, HELP[JOBS], labels=["state"])
        for state in QUEUE_STATES:
            jobs.add_metric([state], values[state])
        yield jobs
        yield GaugeMetricFamily(OLDEST_AGE, HELP[OLDEST_AGE], value=values["oldest_age"])
        yield GaugeMetricFamily(REJECTED, HELP[REJECTED], value=values["rejected"])
        yield GaugeMetricFamily(WORKERS, HELP[WORKERS], value=values["workers"])
        yield GaugeMetricFamily(REDIS_UP, HELP[REDIS_UP], value=1)

    @staticmethod
    def _read(client: redis.Redis) -> dict[str, float]:
        return read_queue_state(client)


def read_queue_state(client: redis.Redis) -> dict[str, float]:
    """What a scrape exports, as a dict: queued, scheduled, started, failed,
    oldest_age (seconds), rejected, workers. Read-only (the collector and
    `stripay-hooks stats` share it); raises on Redis errors."""
    queue = Queue(QUEUE_NAME, connection=client, serializer=JSONSerializer)
    registries = {
        "scheduled": ScheduledJobRegistry(queue=queue),
        "started": StartedJobRegistry(queue=queue),
        "failed": FailedJobRegistry(queue=queue),
    }
    with client.pipeline(transaction=False) as pipe:
        pipe.llen(queue.key)  # what Queue.count reads
        for registry in registries.values():
            pipe.zcard(registry.key)  # get_job_count(cleanup=False)
        pipe.lrange(queue.key, 0, OLDEST_PEEK - 1)
        pipe.xlen(REJECTED_STREAM)
        pipe.smembers(WORKERS_BY_QUEUE_KEY % queue.name)  # what Worker.count(queue=...) counts
        queued, scheduled, started, failed, head_ids, rejected, worker_keys = pipe.execute()

    # Worker.count(queue=...) also counts workers that died without
    # unregistering (SIGKILL, OOM); their key expires when the heartbeat
    # stops, so count only registrations whose worker key still exists.
    worker_keys = sorted(k.decode() if isinstance(k, bytes) else k for k in worker_keys)
    head_ids = [j.decode() if isinstance(j, bytes) else j for j in head_ids]
    with client.pipeline(transaction=False) as pipe:
        for key in worker_keys:
            pipe.exists(key)
        for job_id in head_ids:
            pipe.hget(queue.job_class.key_for(job_id), "enqueued_at")
        replies = pipe.execute()
    alive = sum(1 for exists in replies[: len(worker_keys)] if exists)
    return {
        "queued": int(queued),
        "scheduled": int(scheduled),
        "started": int(started),
        "failed": int(failed),
        "oldest_age": _oldest_age(replies[len(worker_keys) :], time.time()),
        "rejected": int(rejected),
        "workers": alive,
    }


def _oldest_age(enqueued_ats: list[Any], now_s: float) -> float:
    """Age of the first queued job whose hash still carries a readable ``enqueued_at``."""
    for raw in enqueued_ats:
        if not raw:
            continue  # job hash gone (deleted or expired); RQ skips such ids too
        try:
            enqueued = utcparse(raw.decode() if isinstance(raw, bytes) else raw)
        except ValueError:
            continue
        return max(0.0, now_s - enqueued.timestamp())
    return 0.0


def register_queue_collector(
    redis_client_factory: RedisClientFactory, registry: CollectorRegistry = REGISTRY
) -> QueueCollector:
    """Export the queue gauges from ``registry``; idempotent.

    ``redis_client_factory`` returns a blocking Redis client (see
    :func:`queue_client_factory`); it is called once, on the first scrape.
    Registering again on the same registry keeps the one collector and only
    swaps its factory (a no-op for the same factory object), so calling this
    per request or per app is safe.
    """
    with _register_lock:
        existing = _collectors.get(id(registry))
        if existing is not None and existing[0] is registry:
            existing[1].replace_factory(redis_client_factory)
            return existing[1]
        collector = QueueCollector(redis_client_factory)
        registry.register(collector)
        _collectors[id(registry)] = (registry, collector)
        return collector


def unregister_queue_collector(registry: CollectorRegistry = REGISTRY) -> None:
    with _register_lock:
        existing = _collectors.pop(id(registry), None)
    if existing is not None and existing[0] is registry:
        registry.unregister(existing[1])


_register_lock = threading.Lock()
_collectors: dict[int, tuple[CollectorRegistry, QueueCollector]] = {}
