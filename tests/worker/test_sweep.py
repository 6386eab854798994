"""The sweep (worker/sweep.py), its job and its per-period schedule, against the simulator and Redis."""

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from rq.job import Job
from rq.serializers import JSONSerializer

from shared.jobs import build_job, enqueue, scheduled_sweep_job_id
from shared.keys import TRANSITIONS_STREAM
from shared.settings import Settings
from tests.support.worker import rq_queue, run_jobs, scheduled_ids, spawn_worker, worker_context
from worker.context import WorkerContext
from worker.sweep import sweep
from worker.sweep_schedule import lookback_s, schedule_after, schedule_sweeps

EVERY_S = 300


def completed_orders(sim, n: int) -> list[int]:
    sim.set_notify_mode("drop")
    ids = [sim.create_order()["id"] for _ in range(n)]
    for order_id in ids:
        sim.set_status(order_id, "completed")
    return ids


def stored_statuses(ctx: WorkerContext, ids: list[int]) -> list[str | None]:
    return [(stored.status if (stored := ctx.store.get(order_id)) else None) for order_id in ids]


def job_status(ctx: WorkerContext, job_id: str) -> str:
    return Job.fetch(job_id, connection=ctx.redis, serializer=JSONSerializer).get_status().value


@pytest.fixture
def sweeping(worker_settings: Settings) -> Iterator[WorkerContext]:
    """A worker whose STRIPAY_SWEEP_EVERY_S is 300."""
    with worker_context(replace(worker_settings, sweep_every_s=EVERY_S)) as context:
        yield context


def test_sweep_pages_through_every_order(ctx, sim) -> None:
    ids = completed_orders(sim, 45)
    result = sweep(ctx.redis, ctx.stripay, ctx.settings, since_s=3600, limit=20)
    assert (result.pages, result.checked, result.in_window, result.enqueued) == (3, 45, 45, 45)
    run_jobs(ctx.redis)
    assert stored_statuses(ctx, ids) == ["completed"] * 45


def test_a_full_last_page_ends_on_the_empty_page_after_it(ctx, sim) -> None:
    completed_orders(sim, 40)
    result = sweep(ctx.redis, ctx.stripay, ctx.settings, since_s=3600, limit=20)
    assert (result.pages, result.checked) == (3, 40)


def test_orders_updated_before_the_window_are_checked_but_not_compared(ctx, sim) -> None:
    completed_orders(sim, 3)
    two_hours_later = time.time() + 7200
    result = sweep(ctx.redis, ctx.stripay, ctx.settings, since_s=3600, now_s=two_hours_later)
    assert (result.checked, result.in_window, result.enqueued) == (3, 0, 0)
    assert rq_queue(ctx.redis).count == 0


def test_only_orders_the_store_is_behind_on_are_enqueued(ctx, sim) -> None:
    current, stale, missing = completed_orders(sim, 3)
    sweep(ctx.redis, ctx.stripay, ctx.settings, since_s=3600)
    run_jobs(ctx.redis)
    sim.set_status(stale, "refunded")
    ctx.redis.delete(f"stripay:order:{missing}")
    result = sweep(ctx.redis, ctx.stripay, ctx.settings, since_s=3600)
    assert sorted((c.order_id, c.stored_status) for c in result.behind) == [(stale, "completed"), (missing, None)]
    assert current not in [c.order_id for c in result.behind]


def test_sweep_orders_job_reconciles_what_was_missed(ctx, sim) -> None:
    ids = completed_orders(sim, 2)
    job = build_job("worker.jobs.sweep_orders", (3600,), ctx.settings, description="sweep")
    enqueue(ctx.redis, job)
    run_jobs(ctx.redis)
    assert job_status(ctx, job.id) == "finished"
    assert stored_statuses(ctx, ids) == ["completed", "completed"]
    assert ctx.redis.xlen(TRANSITIONS_STREAM) == 2


def test_no_schedule_when_sweeps_are_off(ctx) -> None:
    assert ctx.settings.sweep_every_s == 0
    assert schedule_sweeps(ctx.redis, ctx.settings) is None
    assert scheduled_ids(ctx.redis) == []


def test_workers_starting_on_several_hosts_schedule_one_sweep_per_period(sweeping) -> None:
    now = time.time()
    first = schedule_sweeps(sweeping.redis, sweeping.settings, now_s=now)
    second = schedule_sweeps(sweeping.redis, sweeping.settings, now_s=now)
    assert first == scheduled_sweep_job_id(EVERY_S, int(now // EVERY_S) + 1)
    assert second is None
    assert scheduled_ids(sweeping.redis) == [first]
    job = Job.fetch(first, connection=sweeping.redis, serializer=JSONSerializer)
    assert (job.func_name, job.args[0]) == ("worker.jobs.sweep_orders", lookback_s(EVERY_S))


def test_scheduled_sweep_runs_and_schedules_the_next_period(sweeping, sim) -> None:
    ids = completed_orders(sim, 2)
    long_ago = time.time() - 3 * EVERY_S  # the worker started three periods ago: that sweep is due
    due = schedule_sweeps(sweeping.redis, sweeping.settings, now_s=long_ago)
    run_jobs(sweeping.redis)
    assert job_status(sweeping, due) == "finished"
    assert stored_statuses(sweeping, ids) == ["completed", "completed"]
    [following] = scheduled_ids(sweeping.redis)
    period = int(following.rsplit("-", 1)[1])
    assert period * EVERY_S > time.time() - EVERY_S  # the current or next period, not a backlog of missed ones
    assert following != due


def test_a_late_sweep_moves_the_chain_past_now(sweeping) -> None:
    now = time.time()
    current = int(now // EVERY_S)
    assert schedule_after(sweeping.redis, sweeping.settings, EVERY_S, current - 10, now_s=now) == \
        scheduled_sweep_job_id(EVERY_S, current + 1)
    # the same continuation from another host (or a retry of the job) adds nothing
    assert schedule_after(sweeping.redis, sweeping.settings, EVERY_S, current - 10, now_s=now) is None
    assert len(scheduled_ids(sweeping.redis)) == 1


def test_a_sweep_on_a_host_whose_clock_is_behind_still_moves_forward(sweeping) -> None:
    now = time.time()
    period = int(now // EVERY_S) + 3
    assert schedule_after(sweeping.redis, sweeping.settings, EVERY_S, period, now_s=now) == \
        scheduled_sweep_job_id(EVERY_S, period + 1)


def test_a_changed_period_length_continues_on_the_new_periods(sweeping) -> None:
    now = time.time()
    longer = replace(sweeping.settings, sweep_every_s=600)
    assert schedule_after(sweeping.redis, longer, EVERY_S, int(now // EVERY_S), now_s=now) == \
        scheduled_sweep_job_id(600, int(now // 600) + 1)


def test_scheduled_sweep_stops_when_sweeps_are_turned_off(ctx, sim, worker_settings) -> None:
    completed_orders(sim, 1)
    due = schedule_sweeps(ctx.redis, replace(worker_settings, sweep_every_s=EVERY_S),
                          now_s=time.time() - 3 * EVERY_S)  # scheduled while sweeps were on
    run_jobs(ctx.redis)  # ctx: a worker whose STRIPAY_SWEEP_EVERY_S is 0
    assert job_status(ctx, due) == "finished"
    assert scheduled_ids(ctx.redis) == []
    assert ctx.redis.xlen(TRANSITIONS_STREAM) == 0


def test_a_worker_process_runs_the_due_sweep_and_keeps_the_schedule(ctx, sim, worker_settings, monkeypatch) -> None:
    ids = completed_orders(sim, 2)
    monkeypatch.setenv("STRIPAY_SWEEP_EVERY_S", str(EVERY_S))
    settings = replace(worker_settings, sweep_every_s=EVERY_S)
    due = schedule_sweeps(ctx.redis, settings, now_s=time.time() - 3 * EVERY_S)
    # A burst worker's scheduler first moves the due sweep onto the queue; the worker then
    # drains the queue: the sweep, and the reconciles the sweep queued.
    assert spawn_worker(settings, "--burst").wait(timeout=60) == 0
    assert job_status(ctx, due) == "finished"
    assert stored_statuses(ctx, ids) == ["completed", "completed"]
    [following] = scheduled_ids(ctx.redis)
    assert following != due
