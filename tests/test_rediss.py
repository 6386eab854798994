"""The service over ``rediss://``: receiver, worker and CLI against a TLS-only redis-server.

The server (tests/support/tls_redis.py) has no plain-text port and wants a
client certificate, so every command of these tests went over TLS with the
URL's ``ssl_*`` options.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
import redis
from aiohttp.test_utils import TestClient

from receiver.app import create_app
from shared.settings import Settings
from tests.cli.conftest import env_for
from tests.cli.helpers import invoke, invoke_json
from tests.support.payloads import order_payload
from tests.support.receiver import ReceiverProcess
from tests.support.simulator import SimulatorThread
from tests.support.tls_redis import TlsRedis
from tests.support.worker import spawn_worker

NOTIFY = "/stripay/notify"


@pytest.fixture
def tls_settings(worker_settings: Settings, tls_redis_url: str) -> Settings:
    return replace(worker_settings, redis_url=tls_redis_url)


@pytest.fixture
def tls_redis(tls_redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(tls_redis_url)
    yield client
    client.close()


@pytest.fixture
async def tls_receiver(aiohttp_client, tls_settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(tls_settings))


def queued(client: redis.Redis) -> int:
    return int(client.llen("rq:queue:stripay"))


async def test_a_notification_is_enqueued_over_tls(tls_receiver: TestClient, tls_redis: redis.Redis) -> None:
    payload = order_payload()
    for _ in range(2):  # the second is a duplicate: remembered over TLS too
        response = await tls_receiver.post(NOTIFY, json=payload)
        assert (response.status, await response.text()) == (200, "OK")
    assert queued(tls_redis) == 1


async def test_readiness_over_tls(tls_receiver: TestClient) -> None:
    assert (await tls_receiver.get("/readyz")).status == 200


async def test_a_redis_certificate_of_another_ca_answers_503(aiohttp_client, tls_settings: Settings,
                                                             tls_redis_server: TlsRedis, tls_redis: redis.Redis) -> None:
    wrong_ca = replace(tls_settings, redis_url=tls_redis_server.url(ca="other-ca.pem"))
    client = await aiohttp_client(create_app(wrong_ca))
    response = await client.post(NOTIFY, json=order_payload())
    assert response.status == 503
    assert await response.text() != "OK"
    assert queued(tls_redis) == 0


async def test_a_host_name_not_in_the_certificate_answers_503(aiohttp_client, tls_settings: Settings,
                                                              tls_redis_server: TlsRedis,
                                                              tls_redis: redis.Redis) -> None:
    wrong_name = replace(tls_settings, redis_url=tls_redis_server.url(host="127.0.0.1"))
    client = await aiohttp_client(create_app(wrong_name))
    response = await client.post(NOTIFY, json=order_payload())
    assert response.status == 503
    assert queued(tls_redis) == 0


async def test_tls_redis_down_answers_503_and_up_again_ok(tls_receiver: TestClient,
                                                          tls_redis_server: TlsRedis) -> None:
    assert (await tls_receiver.post(NOTIFY, json=order_payload(1))).status == 200
    tls_redis_server.stop()
    try:
        assert (await tls_receiver.post(NOTIFY, json=order_payload(2))).status == 503
    finally:
        tls_redis_server.start()
    assert (await tls_receiver.post(NOTIFY, json=order_payload(3))).status == 200


def test_notify_worker_and_cli_over_tls(tls_settings: Settings, sim: SimulatorThread, tls_redis: redis.Redis) -> None:
    """Stripay notifies a real receiver process, a real worker process applies the order,
    the CLI shows it: every Redis connection of the three is a TLS one."""
    with ReceiverProcess(tls_settings) as receiver:
        order = sim.create_order(notifyUrl=receiver.notify_url)
        sim.set_status(order["id"], "completed")
        [attempt] = sim.wait_for_deliveries(1)
    assert (attempt["http_status"], attempt["body"]) == (200, "OK")
    assert queued(tls_redis) == 1

    worker = spawn_worker(tls_settings, "--burst")
    assert worker.wait(timeout=60) == 0
    assert queued(tls_redis) == 0

    env = env_for(tls_settings)
    shown = invoke_json(env, "orders", "show", str(order["id"]))
    assert (shown["id"], shown["status"], [h["to"] for h in shown["history"]]) == (order["id"], "completed",
                                                                                     ["completed"])
    stats = invoke(env, "stats")
    assert stats.exit_code == 0, stats.output
