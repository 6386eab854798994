"""Running commands and setting up failed events for the CLI tests."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import redis
from click.testing import CliRunner, Result
from rq.job import Job
from rq.serializers import JSONSerializer

from cli.main import main
from shared.notification_enqueuer import NotificationEnqueuer
from shared.keys import TRANSITIONS_STREAM
from shared.order_store import OrderStore
from tests.support.payloads import signed
from tests.support.simulator import SimulatorThread
from tests.support.worker import failed_ids, run_jobs, worker_context
from worker.context import WorkerContext, use_context

SIM_FIELDS = ("id", "status", "updatedAt", "amount", "currency", "merchantOrderId")


def invoke(env: Mapping[str, str | None], *args: str, input: str | bytes | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=dict(env), input=input, catch_exceptions=False)


def invoke_json(env: Mapping[str, str | None], *args: str) -> Any:
    result = invoke(env, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def notification(order: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    body = {k: v for k, v in order.items() if k != "sign"}
    return signed(body) if key is None else signed(body, key)


def enqueue(ctx: WorkerContext, payload: dict[str, Any], received_at: float = 0.0) -> str:
    return NotificationEnqueuer(ctx.redis, ctx.settings).enqueue(payload, received_at).job_id


def completed_order(sim: SimulatorThread) -> tuple[int, dict[str, Any]]:
    """An order Stripay completed, and its (signed) notification."""
    order = sim.create_order(notifyUrl=None)
    return order["id"], notification(sim.set_status(order["id"], "completed"))


def fail_with_500(ctx: WorkerContext, sim: SimulatorThread, payload: dict[str, Any]) -> str:
    """Enqueue ``payload`` and run it while Stripay answers 500, until its retries are spent."""
    job_id = enqueue(ctx, payload)
    sim.set_fault("/v1/order", status=500)
    try:
        run_jobs(ctx.redis)
    finally:
        sim.clear_faults()
    assert job_id in failed_ids(ctx.redis)
    return job_id


def fail_with_wrong_key(ctx: WorkerContext, payload: dict[str, Any]) -> str:
    """Enqueue ``payload`` and run it with a merchant key Stripay refuses (401: fails at once)."""
    try:
        with worker_context(replace(ctx.settings, merchant_keys=("not-the-key",))) as wrong:
            job_id = enqueue(wrong, payload)
            run_jobs(wrong.redis)
    finally:
        use_context(ctx)  # leaving the inner context dropped the test's one
    assert job_id in failed_ids(ctx.redis)
    return job_id


def age_failures(client: redis.Redis, job_id: str, seconds: float) -> None:
    """Make a job's recorded failures ``seconds`` older.

    RQ stamps each result with its Redis stream id (the server's clock); the
    entries are added again with ids that much earlier.
    """
    key = f"rq:results:{job_id}"
    entries = client.xrange(key)
    client.delete(key)
    for entry_id, fields in entries:
        ms = int(entry_id.decode().split("-")[0]) - int(seconds * 1000)
        client.xadd(key, fields, id=f"{ms}-0")


def job(client: redis.Redis, job_id: str) -> Job:
    return Job.fetch(job_id, connection=client, serializer=JSONSerializer)


def transitions(client: redis.Redis) -> list[tuple[int, str, str]]:
    return [(int(f[b"order_id"]), f[b"from"].decode(), f[b"to"].decode())
            for _, f in client.xrange(TRANSITIONS_STREAM)]


def assert_matches_simulator(client: redis.Redis, sim: SimulatorThread, order_id: int) -> None:
    stored = OrderStore(client).get(order_id)
    truth = sim.order(order_id)
    assert stored is not None
    assert {k: stored.state.get(k) for k in SIM_FIELDS} == {k: truth[k] for k in SIM_FIELDS}
