"""`stripay-hooks events replay`: failed events back on the queue, each change still applied once."""

from tests.cli.helpers import (
    age_failures,
    assert_matches_simulator,
    completed_order,
    enqueue,
    fail_with_500,
    fail_with_wrong_key,
    invoke,
    invoke_json,
    job,
    transitions,
)
from tests.support.worker import failed_ids, rq_queue, run_jobs


def test_replay_after_the_fault_is_gone_converges_the_order(ctx, sim, cli_env) -> None:
    order_id, payload = completed_order(sim)
    job_id = fail_with_500(ctx, sim, payload)
    result = invoke(cli_env, "events", "replay", job_id)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "replayed 1 event"
    assert failed_ids(ctx.redis) == []
    run_jobs(ctx.redis)
    assert job(ctx.redis, job_id).get_status().value == "finished"
    assert_matches_simulator(ctx.redis, sim, order_id)
    assert transitions(ctx.redis) == [(order_id, "", "completed")]


def test_replay_gives_a_fresh_retry_budget(ctx, sim, cli_env) -> None:
    _, payload = completed_order(sim)
    job_id = fail_with_500(ctx, sim, payload)
    assert job(ctx.redis, job_id).retries_left == 0
    invoke(cli_env, "events", "replay", job_id)
    replayed = job(ctx.redis, job_id)
    assert replayed.retries_left == len(ctx.settings.retry_s) == 2
    assert (replayed.args[2], replayed.meta["replays"]) == ("notify", 1)  # a replay, recorded as a notification
    sim.set_fault("/v1/order", status=500)
    run_jobs(ctx.redis, max_jobs=1)  # one attempt fails: a retry is left, so it is not failed again
    assert failed_ids(ctx.redis) == []
    assert job(ctx.redis, job_id).retries_left == 1


def test_replaying_twice_applies_the_change_once(ctx, sim, cli_env) -> None:
    order_id, payload = completed_order(sim)
    job_id = fail_with_500(ctx, sim, payload)
    assert invoke(cli_env, "events", "replay", job_id).exit_code == 0
    run_jobs(ctx.redis)
    again = invoke(cli_env, "events", "replay", job_id)
    assert again.exit_code == 1
    assert f"skipped {job_id}: not failed (status finished)" in again.stderr
    assert again.stdout.splitlines()[-1] == "replayed 0 events"
    run_jobs(ctx.redis)
    assert transitions(ctx.redis) == [(order_id, "", "completed")]


def test_replaying_two_failed_copies_of_one_notification_applies_once(ctx, sim, cli_env) -> None:
    order_id, payload = completed_order(sim)
    first = fail_with_500(ctx, sim, payload)
    ctx.redis.delete(*ctx.redis.keys("stripay:seen:*"))  # Stripay's later retry got past the dedupe window
    second = fail_with_500(ctx, sim, payload)
    assert first != second
    assert set(invoke_json(cli_env, "events", "replay", "--all")["replayed"]) == {first, second}
    run_jobs(ctx.redis)
    assert job(ctx.redis, first).get_status().value == job(ctx.redis, second).get_status().value == "finished"
    assert transitions(ctx.redis) == [(order_id, "", "completed")]
    assert [h["to"] for h in ctx.store.get(order_id).history] == ["completed"]


def test_replay_since_takes_only_recent_failures(ctx, sim, cli_env) -> None:
    old_order, old_payload = completed_order(sim)
    new_order, new_payload = completed_order(sim)
    old = fail_with_500(ctx, sim, old_payload)
    recent = fail_with_500(ctx, sim, new_payload)
    age_failures(ctx.redis, old, 2 * 86400)
    assert invoke_json(cli_env, "events", "replay", "--since", "1d")["replayed"] == [recent]
    run_jobs(ctx.redis)
    assert failed_ids(ctx.redis) == [old]
    assert_matches_simulator(ctx.redis, sim, new_order)
    assert ctx.store.get(old_order) is None


def test_replay_by_error_takes_only_matching_failures(ctx, sim, cli_env) -> None:
    refused_order, refused_payload = completed_order(sim)
    _, unavailable_payload = completed_order(sim)
    refused = fail_with_wrong_key(ctx, refused_payload)  # the key has been fixed since
    unavailable = fail_with_500(ctx, sim, unavailable_payload)
    sim.set_fault("/v1/order", status=500)  # Stripay is still down for the other one
    assert invoke_json(cli_env, "events", "replay", "--error", "HTTP 401")["replayed"] == [refused]
    sim.clear_faults()
    run_jobs(ctx.redis)
    assert failed_ids(ctx.redis) == [unavailable]
    assert_matches_simulator(ctx.redis, sim, refused_order)


def test_dry_run_lists_and_changes_nothing(ctx, sim, cli_env) -> None:
    _, payload = completed_order(sim)
    job_id = fail_with_500(ctx, sim, payload)
    result = invoke(cli_env, "events", "replay", "--all", "--dry-run")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "would replay 1 event"
    assert job_id in result.stdout
    assert failed_ids(ctx.redis) == [job_id]
    assert rq_queue(ctx.redis).count == 0
    assert job(ctx.redis, job_id).retries_left == 0


def test_unknown_job_id_is_reported_and_exits_1(ctx, sim, cli_env) -> None:
    _, payload = completed_order(sim)
    job_id = fail_with_500(ctx, sim, payload)
    result = invoke(cli_env, "events", "replay", job_id, "nope")
    assert result.exit_code == 1
    assert "skipped nope: unknown job" in result.stderr
    assert failed_ids(ctx.redis) == []  # the known one was replayed


def test_a_queued_event_is_not_replayed(ctx, sim, cli_env) -> None:
    _, payload = completed_order(sim)
    job_id = enqueue(ctx, payload)
    result = invoke(cli_env, "events", "replay", job_id)
    assert result.exit_code == 1
    assert "not failed (status queued)" in result.stderr
    assert rq_queue(ctx.redis).count == 1


def test_replay_needs_a_selection(ctx, cli_env) -> None:
    assert invoke(cli_env, "events", "replay").exit_code == 2
    assert invoke(cli_env, "events", "replay", "some-id", "--all").exit_code == 2
    assert invoke(cli_env, "events", "replay", "--all", "--since", "1h").exit_code == 2


def test_no_progress_bar_when_stderr_is_not_a_terminal(ctx, sim, cli_env) -> None:
    _, payload = completed_order(sim)
    fail_with_500(ctx, sim, payload)
    result = invoke(cli_env, "events", "replay", "--all")
    assert (result.exit_code, result.stderr) == (0, "")
