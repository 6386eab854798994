"""A validly signed notification naming an order Stripay does not know is forgery noise:
its own outcome, kept a short time, never a failed event. A real failure still is one."""

from __future__ import annotations

import redis
from prometheus_client import REGISTRY
from rq.job import Job
from rq.serializers import JSONSerializer

from shared.notification_enqueuer import NotificationEnqueuer
from tests.support.payloads import order_payload
from tests.support.worker import failed_ids, run_jobs
from worker.context import WorkerContext

UNKNOWN_ORDER_ID = 987654321


def outcome_count(outcome: str) -> float:
    return REGISTRY.get_sample_value("stripay_reconcile_total", {"outcome": outcome}) or 0.0


def api_404s() -> float:
    return REGISTRY.get_sample_value("stripay_api_requests_total", {"endpoint": "/v1/order", "code": "404"}) or 0.0


def enqueue(ctx: WorkerContext, payload: dict) -> str:
    return NotificationEnqueuer(ctx.redis, ctx.settings).enqueue(payload, 0.0).job_id


def job(client: redis.Redis, job_id: str) -> Job:
    return Job.fetch(job_id, connection=client, serializer=JSONSerializer)


def test_a_signed_notification_of_an_unknown_order_is_its_own_outcome(ctx: WorkerContext, sim) -> None:
    unknown_before, failed_before, calls_before = outcome_count("unknown_order"), outcome_count("failed"), api_404s()
    job_id = enqueue(ctx, order_payload(UNKNOWN_ORDER_ID, status="completed"))
    run_jobs(ctx.redis)
    assert failed_ids(ctx.redis) == []
    assert outcome_count("unknown_order") == unknown_before + 1
    assert outcome_count("failed") == failed_before
    assert api_404s() == calls_before + 1  # asked once, not retried
    finished = job(ctx.redis, job_id)
    assert finished.get_status() == "finished"
    assert finished.return_value()["outcome"] == "unknown_order"
    assert ctx.store.get(UNKNOWN_ORDER_ID) is None


def test_it_is_kept_for_the_unknown_order_ttl_not_the_failure_ttl(ctx: WorkerContext, sim) -> None:
    job_id = enqueue(ctx, order_payload(UNKNOWN_ORDER_ID + 1, status="completed"))
    run_jobs(ctx.redis)
    ttl_s = ctx.redis.ttl(job(ctx.redis, job_id).key)
    assert ctx.settings.result_ttl_s < ttl_s <= ctx.settings.unknown_order_ttl_s < ctx.settings.failure_ttl_s


def test_a_real_failure_still_fails(ctx: WorkerContext, sim) -> None:
    order = sim.set_status(sim.create_order(notifyUrl=None)["id"], "completed")
    failed_before = outcome_count("failed")
    sim.set_fault("/v1/order", status=401)  # the API refuses the key: an operator must act
    try:
        job_id = enqueue(ctx, order_payload(order["id"], status="completed", updatedAt=order["updatedAt"]))
        run_jobs(ctx.redis)
    finally:
        sim.clear_faults()
    assert failed_ids(ctx.redis) == [job_id]
    assert outcome_count("failed") == failed_before + 1
