"""`stripay-hooks orders ...` with several merchants configured."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from shared.notification_enqueuer import NotificationEnqueuer
from tests.cli.conftest import env_for
from tests.cli.helpers import invoke, invoke_json, job, notification
from tests.support.merchants import KEY_B, MERCHANT_B, MERCHANTS, write_merchants_file
from tests.support.payloads import MERCHANT_KEY
from tests.support.simulator import SimulatorThread
from tests.support.worker import failed_ids, run_jobs, worker_context


@pytest.fixture(scope="module")
def two_merchant_sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(key=MERCHANT_KEY, other_merchants=((MERCHANT_B, KEY_B),)) as sim:
        yield sim


@pytest.fixture
def menv(worker_settings, two_merchant_sim, tmp_path: Path, ctx) -> dict[str, str | None]:
    two_merchant_sim.reset()
    path = write_merchants_file(tmp_path / "merchants.toml")
    return env_for(worker_settings, STRIPAY_API_URL=two_merchant_sim.url, STRIPAY_MERCHANT_KEY=None,
                   STRIPAY_MERCHANTS_FILE=str(path))


def test_reconcile_of_an_order_not_stored_needs_the_merchant(menv, two_merchant_sim) -> None:
    order = two_merchant_sim.create_order(merchantId=MERCHANT_B, status="completed")
    result = invoke(menv, "orders", "reconcile", str(order["id"]))
    assert result.exit_code == 2
    assert "--merchant" in result.output


def test_reconcile_with_merchant_names_it_in_the_job(menv, two_merchant_sim, ctx) -> None:
    order = two_merchant_sim.create_order(merchantId=MERCHANT_B, status="completed")
    [queued] = invoke_json(menv, "orders", "reconcile", "--merchant", str(MERCHANT_B), str(order["id"]))
    assert job(ctx.redis, queued["job_id"]).args[0] == {"id": order["id"], "merchantId": str(MERCHANT_B)}


def test_sweep_of_every_merchant_reconciles_each(menv, two_merchant_sim, ctx) -> None:
    two_merchant_sim.set_notify_mode("drop")
    a = two_merchant_sim.create_order(status="completed")
    b = two_merchant_sim.create_order(merchantId=MERCHANT_B, status="completed")
    result = invoke_json(menv, "orders", "sweep", "--since", "1h")
    assert (result["merchants"], result["behind"], result["enqueued"]) == (2, 2, 2)
    settings = replace(ctx.settings, api_url=two_merchant_sim.url, merchant_keys=(), merchants=MERCHANTS)
    with worker_context(settings) as mctx:
        run_jobs(mctx.redis)
        assert failed_ids(mctx.redis) == []
        assert mctx.store.get(a["id"]).status == mctx.store.get(b["id"]).status == "completed"
        # Once stored, the order's merchant is known: no --merchant needed.
        [queued] = invoke_json(menv, "orders", "reconcile", str(b["id"]))
        assert job(mctx.redis, queued["job_id"]).args[0] == {"id": b["id"], "merchantId": MERCHANT_B}


def test_events_of_the_second_merchant_are_listed_and_replayed_with_its_key(menv, two_merchant_sim, ctx) -> None:
    settings = replace(ctx.settings, api_url=two_merchant_sim.url, merchant_keys=(), merchants=MERCHANTS)
    order = two_merchant_sim.create_order(merchantId=MERCHANT_B, status="completed")
    payload = notification({k: v for k, v in order.items() if k != "notifyUrl"}, KEY_B)
    with worker_context(settings) as mctx:
        NotificationEnqueuer(mctx.redis, mctx.settings).enqueue(payload, 0.0)
        two_merchant_sim.set_fault("/v1/order", status=500)
        run_jobs(mctx.redis)
        [failed] = invoke_json(menv, "events", "failed")
        assert failed["order_id"] == order["id"]
        two_merchant_sim.clear_faults()
        assert invoke(menv, "events", "replay", "--all").exit_code == 0
        run_jobs(mctx.redis)
        assert failed_ids(mctx.redis) == []
        assert mctx.store.get(order["id"]).status == "completed"
