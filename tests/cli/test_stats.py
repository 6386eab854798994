"""`stripay-hooks stats`: the queue at a glance."""

import asyncio
import time

import redis.asyncio
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from shared.quarantine import AsyncQuarantine
from tests.cli.helpers import completed_order, enqueue, fail_with_500, invoke, invoke_json
from tests.support.worker import rq_queue


def test_empty_redis_is_all_zeros(ctx, cli_env) -> None:
    assert invoke_json(cli_env, "stats") == {"queued": 0, "scheduled": 0, "started": 0, "failed": 0, "workers": 0,
                                            "oldest_age_s": 0.0, "rejected": 0}


def test_counts_queued_failed_rejected_and_workers(ctx, sim, cli_env, redis_url) -> None:
    _, failing = completed_order(sim)
    fail_with_500(ctx, sim, failing)
    for _ in range(2):
        enqueue(ctx, completed_order(sim)[1], received_at=time.time())

    async def reject() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        await AsyncQuarantine(client, 100, 3600).add(b"{}", "application/json", "missing sign", time.time())
        await client.aclose()

    asyncio.run(reject())
    worker = SimpleWorker([rq_queue(ctx.redis)], connection=ctx.redis, serializer=JSONSerializer)
    worker.register_birth()
    try:
        stats = invoke_json(cli_env, "stats")
    finally:
        worker.register_death()
    assert {k: stats[k] for k in ("queued", "scheduled", "started", "failed", "workers", "rejected")} == {
        "queued": 2, "scheduled": 0, "started": 0, "failed": 1, "workers": 1, "rejected": 1}
    assert stats["oldest_age_s"] >= 0


def test_table_names_every_number(ctx, sim, cli_env) -> None:
    enqueue(ctx, completed_order(sim)[1])
    result = invoke(cli_env, "stats")
    assert result.exit_code == 0
    rows = dict(line.rsplit("  ", 1) for line in result.stdout.splitlines()[1:])
    assert {label.strip(): value.strip() for label, value in rows.items()}["queued jobs"] == "1"
    assert len(rows) == 7
