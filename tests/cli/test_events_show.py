"""`stripay-hooks events show JOB_ID`: one event in full, secrets never shown."""

from tests.cli.helpers import completed_order, fail_with_500, invoke, invoke_json, job
from tests.support.worker import run_jobs


def test_show_masks_email_and_ip_and_never_prints_the_sign(ctx, sim, cli_env) -> None:
    _, payload = completed_order(sim)
    job_id = fail_with_500(ctx, sim, payload)
    result = invoke(cli_env, "events", "show", job_id)
    assert result.exit_code == 0, result.output
    assert payload["email"] not in result.stdout
    assert payload["ip"] not in result.stdout
    assert payload["sign"] not in result.stdout
    assert "sign" not in [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    local, _, domain = payload["email"].partition("@")
    assert f"{local[0]}***@{domain}" in result.stdout


def test_unmasked_shows_email_and_ip_but_still_no_sign(ctx, sim, cli_env) -> None:
    _, payload = completed_order(sim)
    job_id = fail_with_500(ctx, sim, payload)
    document = invoke_json(cli_env, "events", "show", job_id, "--unmasked")
    assert document["payload"]["email"] == payload["email"]
    assert document["payload"]["ip"] == payload["ip"]
    assert "sign" not in document["payload"]
    assert payload["sign"] not in invoke(cli_env, "events", "show", job_id, "--unmasked", "--json").stdout


def test_show_lists_each_failed_run_with_its_error(ctx, sim, cli_env) -> None:
    _, payload = completed_order(sim)
    job_id = fail_with_500(ctx, sim, payload)
    assert invoke(cli_env, "events", "replay", job_id).exit_code == 0
    sim.set_fault("/v1/order", status=503)
    run_jobs(ctx.redis)
    document = invoke_json(cli_env, "events", "show", job_id)
    assert [(a["outcome"], a["error"]) for a in document["attempts"]] == [
        ("failed", "ApiUnavailable: Stripay answered HTTP 500"),
        ("failed", "ApiUnavailable: Stripay answered HTTP 503"),
    ]
    assert document["attempts"][0]["traceback"].startswith("Traceback")
    assert document["attempts"][0]["at"] <= document["attempts"][1]["at"]
    assert document["in_failed_registry"] is True


def test_show_gives_the_orders_current_state(ctx, sim, cli_env) -> None:
    order_id, payload = completed_order(sim)
    job_id = fail_with_500(ctx, sim, payload)
    assert invoke_json(cli_env, "events", "show", job_id)["order"] is None
    assert invoke(cli_env, "events", "show", job_id).stdout.rstrip().endswith(f"order {order_id}: not stored yet")
    assert invoke(cli_env, "orders", "reconcile", str(order_id)).exit_code == 0
    run_jobs(ctx.redis)
    shown = invoke_json(cli_env, "events", "show", job_id)["order"]
    assert (shown["id"], shown["status"]) == (order_id, "completed")
    assert shown["order"]["email"] != payload["email"]  # the stored order is masked too
    text = invoke(cli_env, "events", "show", job_id).stdout
    assert f"order {order_id} now: completed" in text


def test_show_of_a_finished_event_says_it_succeeded(ctx, sim, cli_env) -> None:
    _, payload = completed_order(sim)
    job_id = fail_with_500(ctx, sim, payload)
    invoke(cli_env, "events", "replay", job_id)
    run_jobs(ctx.redis)
    document = invoke_json(cli_env, "events", "show", job_id)
    assert document["job_status"] == "finished"
    assert document["in_failed_registry"] is False
    assert [a["outcome"] for a in document["attempts"]] == ["failed", "successful"]
    assert job(ctx.redis, job_id).get_status().value == "finished"


def test_unknown_job_exits_1_with_one_line(ctx, cli_env) -> None:
    result = invoke(cli_env, "events", "show", "no-such-job")
    assert result.exit_code == 1
    assert result.stderr == "stripay-hooks: job no-such-job is unknown (never existed, or expired)\n"
    assert result.stdout == ""
