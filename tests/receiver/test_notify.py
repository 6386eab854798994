import asyncio
import json
from urllib.parse import urlencode

import pytest
import redis
from aiohttp.test_utils import TestClient

from receiver.app import create_app
from receiver.metrics_server import create_metrics_app
from shared.keys import REJECTED_STREAM
from shared.settings import Settings
from tests.support.metrics import changes, samples
from tests.support.payloads import MERCHANT_KEY, order_payload, signed

NOTIFY = "/stripay/notify"


@pytest.fixture
async def client(aiohttp_client, settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(settings))


def queued(redis_client: redis.Redis) -> int:
    return int(redis_client.llen("rq:queue:stripay"))


async def test_valid_notification_is_enqueued_and_answered_ok(client, redis_client) -> None:
    response = await client.post(NOTIFY, json=order_payload())
    assert response.status == 200
    assert await response.text() == "OK"
    assert response.content_type == "text/plain"
    assert queued(redis_client) == 1


async def test_duplicate_is_answered_ok_without_a_second_job(client, redis_client) -> None:
    payload = order_payload()
    for _ in range(3):
        response = await client.post(NOTIFY, json=payload)
        assert await response.text() == "OK"
    assert queued(redis_client) == 1


async def test_fifty_simultaneous_identical_deliveries_make_one_job(client, redis_client) -> None:
    body = json.dumps(order_payload())
    responses = await asyncio.gather(
        *(client.post(NOTIFY, data=body, headers={"Content-Type": "application/json"}) for _ in range(50))
    )
    assert [r.status for r in responses] == [200] * 50
    assert queued(redis_client) == 1


async def test_new_status_of_same_order_is_a_new_event(client, redis_client) -> None:
    await client.post(NOTIFY, json=order_payload(status="completed"))
    await client.post(NOTIFY, json=order_payload(status="refunded", updated_at="2023-01-12T08:00:00.000Z"))
    assert queued(redis_client) == 2


async def test_form_encoded_notification_is_accepted(client, redis_client) -> None:
    fields = {k: str(v) for k, v in order_payload().items() if v is not None and k != "sign"}
    fields = signed(fields)
    response = await client.post(
        NOTIFY, data=urlencode(fields), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert (response.status, await response.text()) == (200, "OK")
    assert queued(redis_client) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'"text"', "not a JSON object"),
        (b"\xff\xfe", "not UTF-8"),
        (b'{"id": NaN, "sign": "x"}', "NaN"),
        (b'{"sign": "0123456789abcdef0123456789abcdef"}', "missing id"),
        (b'{"id": "12a", "sign": "0123456789abcdef0123456789abcdef"}', "numeric string"),
        (b'{"id": 1.5, "sign": "0123456789abcdef0123456789abcdef"}', "integer"),
        (b'{"id": true, "sign": "0123456789abcdef0123456789abcdef"}', "integer"),
        (b'{"id": 1}', "missing sign"),
        (b'{"id": 1, "sign": 5}', "sign must be a string"),
        (b"[" * 4000 + b"]" * 4000, "nests deeper than 32 levels"),  # deep, and within the body limit
    ],
)
async def test_malformed_body_gets_400_and_changes_nothing(client, redis_client, body: bytes, reason: str) -> None:
    response = await client.post(NOTIFY, data=body, headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert reason in await response.text()
    assert redis_client.dbsize() == 0


async def test_bad_signature_gets_403_and_is_quarantined_not_enqueued(client, redis_client) -> None:
    payload = order_payload()
    payload["status"] = "refunded"  # tampered after signing
    response = await client.post(NOTIFY, json=payload)
    assert response.status == 403
    assert "does not match" in await response.text()
    assert queued(redis_client) == 0
    entries = redis_client.xrange(REJECTED_STREAM)
    assert len(entries) == 1
    assert json.loads(entries[0][1][b"body"]) == payload
    assert entries[0][1][b"reason"] == b"signature does not match"


async def test_signature_with_another_key_is_rejected(client, redis_client) -> None:
    response = await client.post(NOTIFY, json=signed(order_payload(), key="another-merchant-key"))
    assert response.status == 403
    assert queued(redis_client) == 0


async def test_oversized_body_gets_413(aiohttp_client, settings, redis_client) -> None:
    small = Settings(merchant_keys=settings.merchant_keys, redis_url=settings.redis_url, max_body_bytes=512)
    client = await aiohttp_client(create_app(small))
    payload = order_payload(statusNote="x" * 1000)
    response = await client.post(NOTIFY, json=payload)
    assert response.status == 413
    assert redis_client.dbsize() == 0


async def test_odd_fields_are_signed_as_stripay_signs_them(client, redis_client) -> None:
    payload = order_payload(status=None, extra={"nested": [1, 2]}, tags=[1, None, "a"], big=10**30)
    response = await client.post(NOTIFY, json=payload)
    assert (response.status, await response.text()) == (200, "OK")


async def test_numeric_string_id_is_accepted(client, redis_client) -> None:
    response = await client.post(NOTIFY, json=signed({**order_payload(), "id": "42"}))
    assert (response.status, await response.text()) == (200, "OK")


async def test_redis_down_answers_503(aiohttp_client, redis_server, settings, redis_client) -> None:
    client = await aiohttp_client(create_app(settings))
    redis_server.stop()
    try:
        response = await client.post(NOTIFY, json=order_payload())
        assert response.status == 503
        assert await response.text() != "OK"
    finally:
        redis_server.start()


async def test_merchants_file_selects_keys_by_merchant_id(aiohttp_client, settings, redis_client) -> None:
    multi = Settings(merchant_keys=(MERCHANT_KEY,), merchants={"7": ("seven-old", "seven-new")},
                     redis_url=settings.redis_url)
    client = await aiohttp_client(create_app(multi))
    ok = await client.post(NOTIFY, json=signed({**order_payload(), "merchantId": 7}, key="seven-new"))
    wrong = await client.post(NOTIFY, json=signed({**order_payload(2), "merchantId": 7}, key=MERCHANT_KEY))
    assert (ok.status, wrong.status) == (200, 403)


async def test_health_and_readiness(client) -> None:
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/readyz")).status == 200


async def test_readiness_fails_when_redis_is_down(client, redis_server) -> None:
    redis_server.stop()
    try:
        assert (await client.get("/readyz")).status == 503
    finally:
        redis_server.start()


async def test_metrics_count_results_and_ack_time(client, aiohttp_client) -> None:
    series = [("stripay_notifications_total", {"result": "accepted"}),
              ("stripay_notifications_total", {"result": "malformed"}),
              ("stripay_notifications_total", {"result": "bad_signature"}),
              ("stripay_rejected_quarantined_total", {}),
              ("stripay_notify_ack_seconds_count", {})]
    before = samples(*series)
    await client.post(NOTIFY, json=order_payload(99))
    await client.post(NOTIFY, data=b"{", headers={"Content-Type": "application/json"})
    await client.post(NOTIFY, json={**order_payload(98), "sign": "0" * 32})
    assert changes(before, samples(*series)) == [1, 1, 1, 1, 3]
    metrics = await aiohttp_client(create_metrics_app())
    text = await (await metrics.get("/metrics")).text()
    assert 'stripay_notifications_total{result="accepted"}' in text
    assert 'stripay_notifications_total{result="malformed"}' in text
    assert "stripay_notify_ack_seconds_bucket" in text


async def test_log_line_has_order_fields_and_no_secrets(client, capsys) -> None:
    from shared.logging import configure_logging

    configure_logging(json_lines=True)
    payload = order_payload(1234)
    await client.post(NOTIFY, json=payload)
    await client.post(NOTIFY, json={**payload, "status": "refunded"})
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    summary = [line for line in lines if line.get("event") == "notification"]
    assert [line["result"] for line in summary] == ["accepted", "bad_signature"]
    assert summary[0]["order_id"] == 1234 and summary[0]["merchant_order_id"] == "order-1234"
    assert "ack_ms" in summary[0]
    assert MERCHANT_KEY not in err
    assert payload["sign"] not in err
    assert "buyer@example.com" not in err
