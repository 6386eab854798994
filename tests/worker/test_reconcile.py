"""The reconcile job against the simulator over real HTTP and a real Redis."""

from typing import Any

import pytest
import redis
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from shared import jobs
from shared.keys import TRANSITIONS_STREAM
from shared.notification_enqueuer import NotificationEnqueuer
from shared.order_store import OrderStore
from tests.support.metrics import sample as counter
from tests.support.payloads import signed
from tests.support.simulator import SimulatorThread
from tests.support.worker import failed_ids, rq_queue, run_jobs, scheduled_ids, spawn_worker
from worker.context import WorkerContext

SIM_FIELDS = ("id", "status", "updatedAt", "amount", "currency", "merchantOrderId")


def notification(order: dict[str, Any]) -> dict[str, Any]:
    return signed({k: v for k, v in order.items() if k != "sign"})


def enqueue(ctx: WorkerContext, payload: dict[str, Any], received_at: float = 0.0) -> str:
    return NotificationEnqueuer(ctx.redis, ctx.settings).enqueue(payload, received_at).job_id


def enqueue_again(ctx: WorkerContext, payload: dict[str, Any]) -> str:
    """A second job for the same notification, bypassing the receiver's dedupe."""
    job = jobs.reconcile_job(payload, 0.0, ctx.settings)
    jobs.enqueue(ctx.redis, job)
    return job.id


def transitions(client: redis.Redis) -> list[tuple[int, str, str]]:
    return [(int(f[b"order_id"]), f[b"from"].decode(), f[b"to"].decode())
            for _, f in client.xrange(TRANSITIONS_STREAM)]


def assert_matches_simulator(ctx: WorkerContext, sim: SimulatorThread, order_id: int) -> None:
    stored = OrderStore(ctx.redis).get(order_id)
    truth = sim.order(order_id)
    assert stored is not None
    assert {k: stored.state.get(k) for k in SIM_FIELDS} == {k: truth[k] for k in SIM_FIELDS}


def job_status(ctx: WorkerContext, job_id: str) -> JobStatus:
    return Job.fetch(job_id, connection=ctx.redis, serializer=JSONSerializer).get_status()


def test_notification_applies_the_api_state_once(ctx, sim) -> None:
    order = sim.create_order(notifyUrl=None)
    completed = sim.set_status(order["id"], "completed")
    job_id = enqueue(ctx, notification(completed))
    run_jobs(ctx.redis)
    assert job_status(ctx, job_id) == JobStatus.FINISHED
    assert_matches_simulator(ctx, sim, order["id"])
    assert transitions(ctx.redis) == [(order["id"], "", "completed")]


def test_whole_retry_schedule_delivered_applies_once(ctx, sim) -> None:
    order = sim.create_order()
    payload = notification(sim.set_status(order["id"], "completed"))
    for _ in range(5):  # immediately, 10 min, 30 min, 60 min, one day
        enqueue(ctx, payload)
    for _ in range(3):  # even jobs that escaped the dedupe
        enqueue_again(ctx, payload)
    run_jobs(ctx.redis)
    assert transitions(ctx.redis) == [(order["id"], "", "completed")]
    assert [h["to"] for h in OrderStore(ctx.redis).get(order["id"]).history] == ["completed"]


def test_duplicates_in_flight_share_one_api_call(ctx, sim) -> None:
    order = sim.create_order()
    payload = notification(sim.set_status(order["id"], "completed"))
    for _ in range(4):
        enqueue_again(ctx, payload)
    before = counter("stripay_api_requests_total", endpoint="/v1/order", code="200")
    run_jobs(ctx.redis)
    assert counter("stripay_api_requests_total", endpoint="/v1/order", code="200") - before == 1


def test_refunded_delivered_before_completed_ends_refunded(ctx, sim) -> None:
    order = sim.create_order()
    completed = notification(sim.set_status(order["id"], "completed"))
    refunded = notification(sim.set_status(order["id"], "refunded"))
    enqueue(ctx, refunded)
    run_jobs(ctx.redis)
    enqueue(ctx, completed)
    run_jobs(ctx.redis)
    assert_matches_simulator(ctx, sim, order["id"])
    assert OrderStore(ctx.redis).get(order["id"]).status == "refunded"
    assert transitions(ctx.redis) == [(order["id"], "", "refunded")]


def test_each_status_change_applied_in_order(ctx, sim) -> None:
    order = sim.create_order()
    for status in ("completed", "disputed", "refunded"):
        enqueue(ctx, notification(sim.set_status(order["id"], status)))
        run_jobs(ctx.redis)
    assert transitions(ctx.redis) == [(order["id"], "", "completed"), (order["id"], "completed", "disputed"),
                                      (order["id"], "disputed", "refunded")]


def test_api_behind_the_notification_is_rechecked_until_it_agrees(ctx, sim) -> None:
    order = sim.create_order()
    ahead = notification({**order, "status": "completed", "updatedAt": "2999-01-01T00:00:00.000Z"})
    enqueue(ctx, ahead)
    run_jobs(ctx.redis, max_jobs=1)
    assert OrderStore(ctx.redis).get(order["id"]).status == "pending"
    assert len(scheduled_ids(ctx.redis)) == 1
    sim.set_status(order["id"], "completed")
    run_jobs(ctx.redis)
    assert OrderStore(ctx.redis).get(order["id"]).status == "completed"
    assert scheduled_ids(ctx.redis) == [] and failed_ids(ctx.redis) == []


def test_api_that_never_agrees_fails_the_event_with_a_reason(ctx, sim) -> None:
    order = sim.create_order()
    enqueue(ctx, notification({**order, "status": "completed", "updatedAt": "2999-01-01T00:00:00.000Z"}))
    run_jobs(ctx.redis)
    failed = failed_ids(ctx.redis)
    assert len(failed) == 1
    job = Job.fetch(failed[0], connection=ctx.redis, serializer=JSONSerializer)
    assert "still shows pending" in job.latest_result().exc_string
    assert OrderStore(ctx.redis).get(order["id"]).status == "pending"


def test_api_5xx_is_retried_then_recovers(ctx, sim) -> None:
    order = sim.create_order()
    job_id = enqueue(ctx, notification(sim.set_status(order["id"], "completed")))
    sim.set_fault("/v1/order", status=500)
    run_jobs(ctx.redis, max_jobs=1)
    job = Job.fetch(job_id, connection=ctx.redis, serializer=JSONSerializer)
    assert job.get_status() in (JobStatus.QUEUED, JobStatus.SCHEDULED)
    assert job.retries_left == 1
    sim.clear_faults()
    run_jobs(ctx.redis)
    assert job_status(ctx, job_id) == JobStatus.FINISHED
    assert_matches_simulator(ctx, sim, order["id"])


def test_api_timeout_is_retried_then_recovers(ctx, sim, worker_settings) -> None:
    from dataclasses import replace

    from tests.support.worker import worker_context

    order = sim.create_order()
    payload = notification(sim.set_status(order["id"], "completed"))
    with worker_context(replace(worker_settings, api_timeout_s=0.2)) as quick:
        job_id = enqueue(quick, payload)
        sim.set_fault("/v1/order", latency_s=1.0)
        run_jobs(quick.redis, max_jobs=1)
        assert Job.fetch(job_id, connection=quick.redis, serializer=JSONSerializer).retries_left == 1
        sim.clear_faults()
        run_jobs(quick.redis)
        assert job_status(quick, job_id) == JobStatus.FINISHED


def test_wrong_key_fails_at_once_without_retries(ctx, sim, worker_settings) -> None:
    from dataclasses import replace

    from tests.support.worker import worker_context

    order = sim.create_order()
    payload = notification(sim.set_status(order["id"], "completed"))
    with worker_context(replace(worker_settings, merchant_keys=("not-the-key",))) as wrong:
        before = counter("stripay_api_requests_total", endpoint="/v1/order", code="401")
        job_id = enqueue(wrong, payload)
        run_jobs(wrong.redis)
        assert failed_ids(wrong.redis) == [job_id]
        assert counter("stripay_api_requests_total", endpoint="/v1/order", code="401") - before == 1


def test_boundary_shifted_forgery_stores_the_api_state(ctx, sim) -> None:
    order = sim.create_order(amount=1.99)
    genuine = notification(sim.set_status(order["id"], "completed"))
    # Move the first character of createdAt onto the end of amount: the values
    # concatenate to the same string, so the md5 signature still verifies.
    forged = {**genuine, "amount": float(str(genuine["amount"]) + genuine["createdAt"][0]),
              "createdAt": genuine["createdAt"][1:]}
    assert str(forged["amount"]) + forged["createdAt"] == str(genuine["amount"]) + genuine["createdAt"]
    from shared.signature import verify
    from tests.support.payloads import MERCHANT_KEY

    verify(forged, [MERCHANT_KEY])
    before = counter("stripay_reconcile_total", outcome="mismatch")
    enqueue(ctx, forged)
    run_jobs(ctx.redis)
    assert OrderStore(ctx.redis).get(order["id"]).state["amount"] == 1.99
    assert counter("stripay_reconcile_total", outcome="mismatch") - before == 1


def test_two_worker_processes_racing_apply_each_transition_once(ctx, sim, worker_settings) -> None:
    orders = [sim.create_order() for _ in range(5)]
    for order in orders:
        for status in ("completed", "refunded"):
            payload = notification(sim.set_status(order["id"], status))
            enqueue(ctx, payload)
            enqueue_again(ctx, payload)
    workers = [spawn_worker(worker_settings, "--burst") for _ in range(2)]
    assert [w.wait(timeout=60) for w in workers] == [0, 0]
    assert rq_queue(ctx.redis).count == 0
    for order in orders:
        assert_matches_simulator(ctx, sim, order["id"])
    applied = transitions(ctx.redis)
    assert len(applied) == len(set(applied))
    assert all(to in ("completed", "refunded") for _, _, to in applied)


def test_queue_is_drained_and_outcome_counted(ctx, sim) -> None:
    order = sim.create_order()
    before = counter("stripay_reconcile_total", outcome="applied")
    enqueue(ctx, notification(sim.set_status(order["id"], "completed")))
    run_jobs(ctx.redis)
    assert rq_queue(ctx.redis).count == 0
    assert counter("stripay_reconcile_total", outcome="applied") - before == 1


def test_a_rerun_of_a_job_schedules_its_recheck_once(ctx, sim) -> None:
    from worker.reconcile import reconcile

    order = sim.create_order()
    ahead = notification({**order, "status": "completed", "updatedAt": "2999-01-01T00:00:00.000Z"})
    reconcile(ctx, ahead, 0.0)
    reconcile(ctx, ahead, 0.0)  # the same job run again (e.g. after its worker died)
    assert len(scheduled_ids(ctx.redis)) == 1


def test_an_old_notification_is_not_a_mismatch(ctx, sim) -> None:
    order = sim.create_order()
    completed = notification(sim.set_status(order["id"], "completed"))
    sim.set_status(order["id"], "refunded")
    before = counter("stripay_reconcile_total", outcome="mismatch")
    enqueue(ctx, completed)  # a late delivery: the API has moved on
    run_jobs(ctx.redis)
    assert counter("stripay_reconcile_total", outcome="mismatch") == before
    assert OrderStore(ctx.redis).get(order["id"]).status == "refunded"


# Jobs are written with the source the history records; jobs queued under the earlier
# names (recheck, reconcile, replay) still record what they did then.
@pytest.mark.parametrize(("source", "recorded"), [("recheck", "poll"), ("reconcile", "poll"), ("replay", "notify"),
                                                  ("sweep", "sweep"), ("poll", "poll"), ("notify", "notify")])
def test_history_names_where_the_state_came_from(ctx, sim, source: str, recorded: str) -> None:
    order = sim.set_status(sim.create_order(notifyUrl=None)["id"], "completed")
    jobs.enqueue(ctx.redis, jobs.reconcile_job(notification(order), 0.0, ctx.settings, source))
    run_jobs(ctx.redis)
    assert ctx.store.get(order["id"]).history[0]["source"] == recorded
