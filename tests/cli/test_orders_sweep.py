"""`stripay-hooks orders sweep`: the changes whose every notification was lost."""

from shared.embedded_redis import free_port
from tests.cli.conftest import env_for
from tests.cli.helpers import assert_matches_simulator, invoke, invoke_json, transitions
from tests.support.worker import rq_queue, run_jobs


def test_sweep_finds_an_order_whose_notifications_were_all_dropped(ctx, sim, cli_env, redis_url) -> None:
    sim.set_notify_mode("drop")
    order = sim.create_order(notifyUrl="http://127.0.0.1:9/never")
    sim.set_status(order["id"], "completed")
    assert sim.deliveries() == []
    result = invoke(cli_env, "orders", "sweep", "--since", "1h")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].startswith("checked 1 order (1 updated since ")
    assert result.stdout.splitlines()[-1].endswith("1 behind; enqueued 1 reconcile (0 already queued)")
    run_jobs(ctx.redis)
    assert_matches_simulator(ctx.redis, sim, order["id"])
    assert ctx.store.get(order["id"]).history[-1]["source"] == "sweep"
    assert transitions(ctx.redis) == [(order["id"], "", "completed")]


def test_second_sweep_finds_nothing_behind(ctx, sim, cli_env) -> None:
    sim.set_notify_mode("drop")
    for _ in range(3):
        sim.set_status(sim.create_order()["id"], "completed")
    assert invoke_json(cli_env, "orders", "sweep", "--since", "1h")["enqueued"] == 3
    run_jobs(ctx.redis)
    again = invoke_json(cli_env, "orders", "sweep", "--since", "1h")
    assert (again["checked"], again["behind"], again["enqueued"]) == (3, 0, 0)
    assert rq_queue(ctx.redis).count == 0


def test_sweep_while_the_reconcile_is_still_queued_does_not_queue_it_again(ctx, sim, cli_env) -> None:
    sim.set_status(sim.create_order()["id"], "completed")
    assert invoke_json(cli_env, "orders", "sweep", "--since", "1h")["enqueued"] == 1
    again = invoke_json(cli_env, "orders", "sweep", "--since", "1h")
    assert (again["behind"], again["enqueued"], again["already_queued"]) == (1, 0, 1)
    assert rq_queue(ctx.redis).count == 1


def test_order_changed_again_after_it_was_stored_is_behind(ctx, sim, cli_env) -> None:
    order = sim.create_order()
    sim.set_status(order["id"], "completed")
    invoke(cli_env, "orders", "sweep", "--since", "1h")
    run_jobs(ctx.redis)
    sim.set_notify_mode("drop")
    sim.set_status(order["id"], "refunded")
    [behind] = invoke_json(cli_env, "orders", "sweep", "--since", "1h")["orders"]
    assert (behind["order_id"], behind["api_status"], behind["stored_status"]) == (order["id"], "refunded",
                                                                                    "completed")
    run_jobs(ctx.redis)
    assert transitions(ctx.redis) == [(order["id"], "", "completed"), (order["id"], "completed", "refunded")]


def test_dry_run_enqueues_nothing(ctx, sim, cli_env) -> None:
    sim.set_status(sim.create_order()["id"], "completed")
    result = invoke(cli_env, "orders", "sweep", "--since", "1h", "--dry-run")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1].endswith("1 behind; would enqueue 1")
    assert rq_queue(ctx.redis).count == 0


def test_since_is_required(ctx, cli_env) -> None:
    assert invoke(cli_env, "orders", "sweep").exit_code == 2


def test_stripay_unreachable_is_one_line_and_exit_1(ctx, worker_settings) -> None:
    env = env_for(worker_settings, STRIPAY_API_URL=f"http://127.0.0.1:{free_port()}")
    result = invoke(env, "orders", "sweep", "--since", "1h")
    assert result.exit_code == 1
    assert result.stderr == "stripay-hooks: Stripay unreachable: Stripay /v1/orders unreachable: NewConnectionError\n"


def test_stripay_5xx_is_one_line_and_exit_1(ctx, sim, cli_env) -> None:
    sim.set_fault("/v1/orders", status=502)
    result = invoke(cli_env, "orders", "sweep", "--since", "1h")
    assert (result.exit_code, result.stderr) == (1, "stripay-hooks: Stripay unreachable: Stripay answered HTTP 502\n")
