"""`stripay-hooks orders show` and `orders reconcile`."""

from tests.cli.helpers import assert_matches_simulator, invoke, invoke_json, job, transitions
from tests.support.worker import rq_queue, run_jobs


def test_reconcile_an_order_whose_notification_never_came(ctx, sim, cli_env) -> None:
    sim.set_notify_mode("drop")
    order = sim.create_order()
    sim.set_status(order["id"], "completed")
    result = invoke(cli_env, "orders", "reconcile", str(order["id"]))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "enqueued 1 reconcile"
    run_jobs(ctx.redis)
    assert_matches_simulator(ctx.redis, sim, order["id"])
    stored = ctx.store.get(order["id"])
    assert stored.history[-1]["source"] == "poll"
    assert transitions(ctx.redis) == [(order["id"], "", "completed")]


def test_reconcile_job_is_the_reconcile_job_with_source_poll(ctx, sim, cli_env) -> None:
    order = sim.create_order()
    [queued] = invoke_json(cli_env, "orders", "reconcile", str(order["id"]))
    reconcile = job(ctx.redis, queued["job_id"])
    assert reconcile.func_name == "worker.jobs.reconcile_notification"
    assert reconcile.args[0] == {"id": order["id"]}
    assert reconcile.args[2] == "poll"
    assert reconcile.retries_left == len(ctx.settings.retry_s)
    assert rq_queue(ctx.redis).job_ids == [queued["job_id"]]


def test_reconcile_several_orders_and_again_changes_nothing_more(ctx, sim, cli_env) -> None:
    orders = [sim.create_order() for _ in range(3)]
    for order in orders:
        sim.set_status(order["id"], "completed")
    ids = [str(order["id"]) for order in orders]
    assert len(invoke_json(cli_env, "orders", "reconcile", *ids)) == 3
    run_jobs(ctx.redis)
    assert len(invoke_json(cli_env, "orders", "reconcile", *ids)) == 3
    run_jobs(ctx.redis)
    assert sorted(transitions(ctx.redis)) == sorted((order["id"], "", "completed") for order in orders)


def test_reconcile_of_an_order_stripay_does_not_know_fails_the_event(ctx, sim, cli_env) -> None:
    [queued] = invoke_json(cli_env, "orders", "reconcile", "424242")
    run_jobs(ctx.redis)
    [failed] = invoke_json(cli_env, "events", "failed")
    assert (failed["job_id"], failed["order_id"], failed["source"]) == (queued["job_id"], 424242, "poll")
    assert "HTTP 404" in failed["error"]


def test_reconcile_needs_an_integer_order_id(ctx, cli_env) -> None:
    assert invoke(cli_env, "orders", "reconcile", "abc").exit_code == 2
    assert invoke(cli_env, "orders", "reconcile").exit_code == 2


def test_show_keeps_its_behaviour(ctx, sim, cli_env) -> None:
    order = sim.create_order()
    sim.set_status(order["id"], "completed")
    unknown = invoke(cli_env, "orders", "show", str(order["id"]))
    assert (unknown.exit_code, unknown.stderr) == (1, f"stripay-hooks: order {order['id']} is unknown\n")
    invoke(cli_env, "orders", "reconcile", str(order["id"]))
    run_jobs(ctx.redis)
    shown = invoke_json(cli_env, "orders", "show", str(order["id"]))
    assert (shown["id"], shown["status"], [h["to"] for h in shown["history"]]) == (order["id"], "completed",
                                                                                     ["completed"])
    assert invoke(cli_env, "orders", "show", str(order["id"])).stdout.startswith(f"order {order['id']}: completed")
