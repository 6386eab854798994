"""The worker's shortened bookkeeping of a job (worker.bookkeeping, worker.threads) writes what RQ's own does.

The same job runs once on RQ's stock ``SimpleWorker`` and once on the service's
``ThreadWorker``, each against a Redis database of its own; what each leaves in
RQ's keys (the job hash, its result, the registries, the worker's hash) must
be the same, but for times and names. TTLs are compared as set or not: the
service's differ on purpose (a job's lease, a worker key never shorter-lived
than ``worker_ttl + 60`` s).
"""

from __future__ import annotations

import base64
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
import redis
from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer

from shared.jobs import QUEUE_NAME, enqueue, reconcile_job
from shared.settings import Settings
from tests.support.simulator import SimulatorThread
from tests.support.worker import worker_context
from tests.worker.test_faults import notification_for
from worker.recovery import JobLeases
from worker.threads import ThreadWorker

# Fields whose values are times, durations or per-run ids: compared as present or not.
VOLATILE = {"created_at", "enqueued_at", "started_at", "ended_at", "last_heartbeat", "birth", "total_working_time",
            "current_job_working_time", "execution_id", "execution_started_at", "execution_ended_at", "pid",
            "ip_address", "return_value"}
HEX_ID = re.compile(rb"[0-9a-f]{32}")


def _text(value: bytes) -> str:
    return HEX_ID.sub(b"<id>", value).decode(errors="replace")


def _fields(pairs: dict[bytes, bytes]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in pairs.items():
        field = name.decode()
        if field in VOLATILE:
            out[field] = bool(value)
        elif field in ("exc_info", "exc_string"):
            if field == "exc_string":  # a result's: compressed
                value = zlib.decompress(base64.b64decode(value))
            out[field] = value.decode().strip().splitlines()[-1]  # the exception, not the frames
        else:
            out[field] = _text(value)
    if pairs.get(b"ended_at") and pairs.get(b"last_heartbeat"):  # RQ beats once more as the job ends
        out["last_heartbeat_at_end"] = pairs[b"last_heartbeat"] >= pairs[b"ended_at"]
    return out


def rq_state(client: redis.Redis, job_id: str, worker_name: str) -> dict[str, Any]:
    """Every RQ key the job's run left that names the job or the worker, and the queue's
    registries, as (type, has a TTL, normalised content)."""
    state: dict[str, Any] = {}
    for raw in client.keys("rq:*"):
        key = raw.decode()
        registry = key.startswith(("rq:wip:", "rq:finished:", "rq:failed:", "rq:scheduled:", "rq:queue:"))
        if job_id not in key and worker_name not in key and not registry:
            continue
        kind = client.type(raw).decode()
        if kind == "hash":
            content: Any = _fields(client.hgetall(raw))
        elif kind == "zset":
            content = sorted(_text(member) for member in client.zrange(raw, 0, -1))
        elif kind == "list":
            content = [_text(item) for item in client.lrange(raw, 0, -1)]
        elif kind == "set":
            content = sorted(_text(member) for member in client.smembers(raw))
        elif kind == "stream":
            content = [_fields(fields) for _, fields in client.xrange(raw)]
        else:
            content = _text(client.get(raw) or b"")
        name = key.replace(job_id, "<job>").replace(worker_name, "<worker>")
        state[_text(name.encode())] = (kind, client.ttl(raw) > 0, content)
    return state


def _run_one(worker: SimpleWorker, client: redis.Redis) -> None:
    """What a worker's loop does for one job, without its periodic work."""
    worker.register_birth()
    queue = Queue(QUEUE_NAME, connection=client, serializer=JSONSerializer)
    taken = Queue.dequeue_any([queue], None, connection=client, job_class=worker.job_class, serializer=JSONSerializer)
    assert taken is not None
    worker.execute_job(*taken)


@pytest.fixture
def both(redis_url: str, worker_settings: Settings) -> Iterator[Callable[[Any], tuple[dict, dict]]]:
    """Runs a job on RQ's SimpleWorker (database 1) and on ThreadWorker (database 0); both states."""
    ours = redis.Redis.from_url(redis_url)
    theirs = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/1")
    theirs.flushdb()

    def run(job: Any) -> tuple[dict, dict]:
        states = []
        for client, make in ((theirs, lambda c: SimpleWorker([QUEUE_NAME], connection=c, serializer=JSONSerializer)),
                             (ours, lambda c: ThreadWorker([QUEUE_NAME], connection=c,
                                                           leases=JobLeases(c, renew_in_thread=False)))):
            url = client.connection_pool.connection_kwargs["db"]
            with worker_context(replace(worker_settings, redis_url=redis_url.rsplit("/", 1)[0] + f"/{url}")):
                enqueue(client, job)
                worker = make(client)
                _run_one(worker, client)
                states.append(rq_state(client, job.id, worker.name))
        return states[0], states[1]

    yield run
    theirs.flushdb()
    ours.close()
    theirs.close()


def test_a_finished_job_leaves_what_rq_leaves(both, sim: SimulatorThread, worker_settings: Settings) -> None:
    theirs, ours = both(reconcile_job(notification_for(sim), 1.0, worker_settings))
    assert ours == theirs
    job_hash, worker_hash = ours["rq:job:<job>"][2], ours["rq:worker:<worker>"][2]
    assert job_hash["status"] == "finished" and job_hash["last_heartbeat_at_end"]
    assert (worker_hash["state"], worker_hash["successful_job_count"]) == ("idle", "1")
    assert "current_job" not in worker_hash


def test_a_failed_job_leaves_what_rq_leaves(both, sim: SimulatorThread, worker_settings: Settings) -> None:
    sim.set_fault("/v1/order", status=400)  # refused: not retried
    theirs, ours = both(reconcile_job(notification_for(sim), 1.0, worker_settings))
    assert ours == theirs
    assert ours["rq:job:<job>"][2]["status"] == "failed"


def test_a_job_to_retry_leaves_what_rq_leaves(both, sim: SimulatorThread, worker_settings: Settings) -> None:
    sim.set_fault("/v1/order", status=503)  # unavailable: retried at once (retry_s 0)
    theirs, ours = both(reconcile_job(notification_for(sim), 1.0, worker_settings))
    assert ours == theirs
    assert ours["rq:job:<job>"][2]["status"] == "queued"


def test_a_job_key_with_a_ttl_is_made_persistent_as_the_job_starts(ctx, sim: SimulatorThread) -> None:
    """A replayed failed job's key still has the failed job's TTL: RQ removes it before the job
    runs (``Job.perform``), here the start's transaction does."""
    job = reconcile_job(notification_for(sim), 1.0, ctx.settings)
    enqueue(ctx.redis, job)
    ctx.redis.expire(job.key, 1000)
    ttls_seen_by_the_job: list[int] = []

    class Probe(ThreadWorker):
        def perform_job(self, job, queue) -> bool:
            ttls_seen_by_the_job.append(ctx.redis.ttl(job.key))
            return super().perform_job(job, queue)

    _run_one(Probe([QUEUE_NAME], connection=ctx.redis, leases=JobLeases(ctx.redis, renew_in_thread=False)), ctx.redis)
    assert ttls_seen_by_the_job == [-1]
