"""StripayWorker: RQ's in-process worker, ready before its first job."""

from __future__ import annotations

import redis
from rq.serializers import JSONSerializer

from shared.jobs import QUEUE_NAME
from shared.order_store import APPLY_SCRIPT
from worker.context import WorkerContext
from worker.pool import MAINTENANCE_INTERVAL_S, StripayWorker


def _worker(client: redis.Redis) -> StripayWorker:
    return StripayWorker([QUEUE_NAME], connection=client, serializer=JSONSerializer)


def test_bootstrap_loads_the_apply_script_before_the_first_job(redis_client: redis.Redis, ctx: WorkerContext) -> None:
    redis_client.script_flush()
    worker = _worker(redis_client)
    try:
        worker.bootstrap(logging_level="WARNING")
        assert redis_client.script_exists(ctx.store.apply_script_sha) == [True]
    finally:
        worker.unsubscribe()
        worker.register_death()


def test_bootstrap_survives_a_context_that_cannot_be_built(redis_client: redis.Redis, monkeypatch) -> None:
    monkeypatch.delenv("STRIPAY_MERCHANT_KEY", raising=False)
    monkeypatch.setattr("worker.context._current", None)
    worker = _worker(redis_client)
    try:
        worker.bootstrap(logging_level="WARNING")  # the first job reports the missing setting
        assert worker.get_state() == "started"
    finally:
        worker.unsubscribe()
        worker.register_death()


def test_maintenance_runs_more_often_than_rqs_default(redis_client: redis.Redis) -> None:
    assert _worker(redis_client).maintenance_interval == MAINTENANCE_INTERVAL_S
