"""`stripay-hooks events failed`: what failed, why, how often, when."""

from tests.cli.helpers import (
    age_failures,
    completed_order,
    fail_with_500,
    fail_with_wrong_key,
    invoke,
    invoke_json,
)


def test_event_failed_on_5xx_is_listed_in_the_table(ctx, sim, cli_env) -> None:
    order_id, payload = completed_order(sim)
    job_id = fail_with_500(ctx, sim, payload)
    result = invoke(cli_env, "events", "failed")
    assert result.exit_code == 0, result.output
    header, row, footer = result.stdout.splitlines()
    assert header.split()[:3] == ["JOB", "ID", "ORDER"]
    assert row.split()[:5] == [job_id, str(order_id), "completed", "notify", "1"]
    assert row.endswith("ApiUnavailable: Stripay answered HTTP 500")
    assert footer == "1 failed event"


def test_event_failed_on_5xx_is_listed_as_json(ctx, sim, cli_env) -> None:
    order_id, payload = completed_order(sim)
    job_id = fail_with_500(ctx, sim, payload)
    [event] = invoke_json(cli_env, "events", "failed")
    assert (event["job_id"], event["order_id"], event["status"]) == (job_id, order_id, "completed")
    assert event["error"] == "ApiUnavailable: Stripay answered HTTP 500"
    assert event["attempts"] == 1
    assert event["retries_left"] == 0
    assert event["first_failed_at"] == event["last_failed_at"] is not None


def test_wrong_key_failure_is_listed_with_stripays_refusal(ctx, sim, cli_env) -> None:
    _, payload = completed_order(sim)
    job_id = fail_with_wrong_key(ctx, payload)
    [event] = invoke_json(cli_env, "events", "failed")
    assert event["job_id"] == job_id
    assert event["error"].startswith("ApiRejected: Stripay answered HTTP 401")


def test_error_filter_keeps_only_matching_events(ctx, sim, cli_env) -> None:
    _, first = completed_order(sim)
    _, second = completed_order(sim)
    unavailable = fail_with_500(ctx, sim, first)
    rejected = fail_with_wrong_key(ctx, second)
    assert [e["job_id"] for e in invoke_json(cli_env, "events", "failed", "--error", "http 500")] == [unavailable]
    assert [e["job_id"] for e in invoke_json(cli_env, "events", "failed", "--error", "ApiRejected")] == [rejected]


def test_since_filter_drops_events_whose_last_failure_is_older(ctx, sim, cli_env) -> None:
    _, first = completed_order(sim)
    _, second = completed_order(sim)
    old = fail_with_500(ctx, sim, first)
    recent = fail_with_500(ctx, sim, second)
    age_failures(ctx.redis, old, 3 * 3600)
    assert [e["job_id"] for e in invoke_json(cli_env, "events", "failed", "--since", "1h")] == [recent]
    assert {e["job_id"] for e in invoke_json(cli_env, "events", "failed", "--since", "1d")} == {old, recent}


def test_no_failed_events_says_so(ctx, cli_env) -> None:
    result = invoke(cli_env, "events", "failed")
    assert (result.exit_code, result.stdout) == (0, "no failed events\n")
    assert invoke_json(cli_env, "events", "failed") == []


def test_bad_duration_is_a_usage_error(ctx, cli_env) -> None:
    result = invoke(cli_env, "events", "failed", "--since", "2 fortnights")
    assert result.exit_code == 2
    assert "not a duration" in result.stderr
