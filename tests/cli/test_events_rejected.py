"""`stripay-hooks events rejected` and `events replay-rejected`: the quarantine of bad signatures."""

import asyncio
import json
import time
from dataclasses import replace
from urllib.parse import urlencode

import redis.asyncio

from receiver.app import create_app
from shared.quarantine import HEAD_BYTES, AsyncQuarantine, Quarantine
from tests.cli.conftest import env_for
from tests.cli.helpers import assert_matches_simulator, enqueue, invoke, invoke_json, notification, transitions
from tests.support.payloads import MERCHANT_KEY, signed
from tests.support.worker import rq_queue, run_jobs

PREVIOUS_KEY = "previous-merchant-key"


def quarantine(redis_url: str, body: bytes, reason: str = "signature does not match",
               content_type: str = "application/json") -> None:
    async def add() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        try:
            await AsyncQuarantine(client, 1000, 86400).add(body, content_type, reason, time.time())
        finally:
            await client.aclose()

    asyncio.run(add())


def quarantined(client) -> int:
    return Quarantine(client, 86400).count()


def signed_body(order: dict, key: str = MERCHANT_KEY) -> bytes:
    return json.dumps(notification(order, key)).encode()


async def test_notification_rejected_before_a_key_rotation_is_replayed_after_it(
    aiohttp_client, ctx, sim, worker_settings, redis_client
) -> None:
    # The receiver only knows the previous key; Stripay already signs with the current one.
    receiver = await aiohttp_client(create_app(replace(worker_settings, merchant_keys=(PREVIOUS_KEY,))))
    order = sim.create_order(notifyUrl=None)
    payload = notification(sim.set_status(order["id"], "completed"))
    response = await receiver.post("/stripay/notify", json=payload)
    assert response.status == 403
    assert quarantined(redis_client) == 1

    rotated = env_for(worker_settings, STRIPAY_MERCHANT_KEY=f"{MERCHANT_KEY},{PREVIOUS_KEY}")
    result = invoke(rotated, "events", "replay-rejected")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["replayed 1 rejected notification: 1 enqueued, 0 already enqueued before",
                                          "0 still fail"]
    assert quarantined(redis_client) == 0
    run_jobs(ctx.redis)
    assert_matches_simulator(ctx.redis, sim, order["id"])
    assert transitions(ctx.redis) == [(order["id"], "", "completed")]


def test_rejected_lists_entries_with_reason_and_no_sign(ctx, sim, cli_env, redis_url) -> None:
    order = sim.set_status(sim.create_order()["id"], "completed")
    body = signed_body(order, "some-other-key")
    quarantine(redis_url, body)
    [entry] = invoke_json(cli_env, "events", "rejected")
    assert (entry["order_id"], entry["status"], entry["reason"]) == (order["id"], "completed",
                                                                      "signature does not match")
    assert "sign" not in entry["payload"]
    assert entry["payload"]["email"] != order["email"]
    table = invoke(cli_env, "events", "rejected")
    assert table.exit_code == 0
    assert json.loads(body)["sign"] not in table.stdout
    assert table.stdout.splitlines()[-1] == "1 rejected notification"


def test_replay_rejected_says_how_many_still_fail_and_why(ctx, sim, cli_env, redis_url, redis_client) -> None:
    good = sim.set_status(sim.create_order()["id"], "completed")
    quarantine(redis_url, signed_body(good))  # rejected while the key was missing; passes now
    for _ in range(2):
        forged = {**notification(sim.create_order()), "amount": 1000}
        quarantine(redis_url, json.dumps(forged).encode())
    quarantine(redis_url, b"{not json", reason="body is not valid JSON")
    result = invoke(cli_env, "events", "replay-rejected")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "replayed 1 rejected notification: 1 enqueued, 0 already enqueued before",
        "3 still fail:",
        "      2  signature does not match",
        "      1  malformed: body is not valid JSON",
    ]
    assert quarantined(redis_client) == 3
    assert rq_queue(ctx.redis).count == 1


def test_form_encoded_rejected_notification_is_replayed(ctx, sim, cli_env, redis_url, redis_client) -> None:
    order = sim.set_status(sim.create_order()["id"], "completed")
    fields = {k: str(v) for k, v in order.items() if v is not None}
    quarantine(redis_url, urlencode(signed(fields)).encode(), content_type="application/x-www-form-urlencoded")
    assert invoke_json(cli_env, "events", "replay-rejected")["enqueued"] == 1
    assert quarantined(redis_client) == 0


def test_dry_run_changes_nothing(ctx, sim, cli_env, redis_url, redis_client) -> None:
    quarantine(redis_url, signed_body(sim.set_status(sim.create_order()["id"], "completed")))
    result = invoke(cli_env, "events", "replay-rejected", "--dry-run")
    assert result.stdout.splitlines()[0] == "would replay 1 rejected notification"
    assert quarantined(redis_client) == 1
    assert rq_queue(ctx.redis).count == 0


def test_notification_already_enqueued_is_removed_without_a_second_job(ctx, sim, cli_env, redis_url,
                                                                        redis_client) -> None:
    order = sim.set_status(sim.create_order()["id"], "completed")
    enqueue(ctx, notification(order))  # Stripay's next retry got through
    quarantine(redis_url, signed_body(order))
    summary = invoke_json(cli_env, "events", "replay-rejected")
    assert (summary["enqueued"], summary["duplicates"], summary["still_failing"]) == (0, 1, 0)
    assert quarantined(redis_client) == 0
    assert rq_queue(ctx.redis).count == 1


def test_no_rejected_notifications(ctx, cli_env) -> None:
    assert invoke(cli_env, "events", "rejected").stdout == "no rejected notifications\n"


def test_a_body_kept_in_part_is_listed_and_not_replayed(ctx, sim, cli_env, redis_url, redis_client) -> None:
    order = sim.set_status(sim.create_order()["id"], "completed")
    long_body = json.dumps({**notification(order), "note": "x" * HEAD_BYTES}).encode()
    quarantine(redis_url, long_body)  # signed with the right key, but only its head is kept
    [entry] = invoke_json(cli_env, "events", "rejected")
    assert (entry["complete"], entry["length"], entry["payload"]) == (False, len(long_body), None)
    assert entry["unreadable"] == f"kept in part: the first {HEAD_BYTES} of {len(long_body)} bytes"
    result = invoke(cli_env, "events", "replay-rejected")
    assert result.stdout.splitlines() == [
        "replayed 0 rejected notifications: 0 enqueued, 0 already enqueued before",
        "1 still fails:",
        f"      1  kept in part (over {HEAD_BYTES} bytes): not re-verified",
    ]
    assert quarantined(redis_client) == 1
    assert rq_queue(ctx.redis).count == 0
