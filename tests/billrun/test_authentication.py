"""getRequest accepts only what a BillRun client signed, once, and recently; anything else is 401,
stores nothing and costs no Stripay call."""

import json
import time
from dataclasses import replace

from receiver.billrun.store import record_key
from tests.billrun.helpers import (
    GET_REQUEST,
    OLD_SHARED_SECRET,
    SHARED_SECRET,
    billrun_data,
    send_data,
    signed_data,
    stripay_calls,
)
from tests.support.billrun_php import php_sign, requires_php

OTHER_SECRET = "not-the-shared-secret-0123456789"


def billrun_keys(redis_client) -> list[bytes]:
    return list(redis_client.scan_iter("stripay:billrun:*"))


async def assert_refused(client, sim, redis_client, data, reason: str) -> None:
    before = stripay_calls("/v1/checkout/pay")
    status, body = await send_data(client, data)
    assert (status, body) == (401, {"status": 0, "desc": reason})
    assert billrun_keys(redis_client) == []
    assert sim.client.call("POST", "/v1/orders", {"key": sim.key})["total"] == 0
    assert stripay_calls("/v1/checkout/pay") == before


async def test_unsigned_request_is_refused(client, sim, redis_client) -> None:
    await assert_refused(client, sim, redis_client, billrun_data(), "_sig_ is missing")


async def test_request_without_a_timestamp_is_refused(client, sim, redis_client) -> None:
    data = signed_data()
    del data["_t_"]
    await assert_refused(client, sim, redis_client, data, "_t_ is missing")


async def test_malformed_signature_is_refused(client, sim, redis_client) -> None:
    await assert_refused(client, sim, redis_client, {**billrun_data(), "_sig_": "abc"},
                         "_sig_ must be 128 lowercase hex digits")


async def test_other_secret_is_refused(client, sim, redis_client) -> None:
    await assert_refused(client, sim, redis_client, signed_data(secret=OTHER_SECRET), "_sig_ does not match the data")


async def test_field_changed_after_signing_is_refused(client, sim, redis_client) -> None:
    data = signed_data()
    data["amount"] = 0.01
    await assert_refused(client, sim, redis_client, data, "_sig_ does not match the data")


async def test_stale_timestamp_is_refused(client, sim, redis_client) -> None:
    data = signed_data(_t_=str(int(time.time()) - 400))
    status, body = await send_data(client, data)
    assert status == 401 and body["status"] == 0
    assert body["desc"].startswith("_t_ is 40") and body["desc"].endswith("s old (tolerance 300 s)")
    assert billrun_keys(redis_client) == []


async def test_replayed_request_is_refused_and_creates_nothing_more(client, sim, redis_client) -> None:
    data = signed_data()
    assert (await send_data(client, data))[0] == 200
    keys = set(billrun_keys(redis_client))
    before = stripay_calls("/v1/checkout/pay")
    status, body = await send_data(client, data)
    assert (status, body) == (401, {"status": 0, "desc": "_sig_ was already used (a signed request is accepted once)"})
    assert set(billrun_keys(redis_client)) == keys
    assert sim.client.call("POST", "/v1/orders", {"key": sim.key})["total"] == 1
    assert stripay_calls("/v1/checkout/pay") == before


async def test_used_signature_is_remembered_for_the_tolerance_window(client, sim, redis_client) -> None:
    data = signed_data()
    await send_data(client, data)
    ttl_s = redis_client.ttl(f"stripay:billrun:sig:{data['_sig_']}")
    assert 290 < ttl_s <= 301


async def test_rotated_secret_still_verifies(start, billrun_settings, sim) -> None:
    settings = replace(billrun_settings, billrun=replace(billrun_settings.billrun,
                                                         shared_secrets=(SHARED_SECRET, OLD_SHARED_SECRET)))
    client = await start(settings)
    assert (await send_data(client, signed_data(secret=OLD_SHARED_SECRET)))[0] == 200
    assert (await send_data(client, signed_data(secret=SHARED_SECRET, aid="5678")))[0] == 200


async def test_data_in_a_form_encoded_post_body_is_read(client, sim) -> None:
    response = await client.post(GET_REQUEST, data={"data": json.dumps(signed_data())})
    assert response.status == 200
    assert (await response.json())["status"] == 1


@requires_php
async def test_php_signature_over_a_non_ascii_value_verifies(client, sim, redis_client) -> None:
    data = php_sign(billrun_data(aid="Łódź/7 😀", note="Zoë"), SHARED_SECRET)
    status, body = await send_data(client, json.dumps(data, ensure_ascii=False))
    assert (status, body["status"]) == (200, 1), body
    stored = redis_client.hget(record_key(sim.order(1)["merchantOrderId"]), "aid")
    assert stored.decode() == "Łódź/7 😀"


@requires_php
async def test_php_signature_over_a_url_with_a_query_string_verifies(client, sim) -> None:
    data = php_sign(billrun_data(ok_page="https://billrun.example/ok?lang=en&next=%2Fa~c",
                                 return_url="https://billrun.example/back?to=my ~page&x=1"), SHARED_SECRET)
    status, body = await send_data(client, data)
    assert (status, body["status"]) == (200, 1), body


@requires_php
async def test_php_signature_over_an_integral_float_verifies(client, sim) -> None:
    raw = json.dumps(billrun_data()).replace('"amount": 12.5', '"amount": 25.0')
    data = php_sign(raw, SHARED_SECRET)
    status, body = await send_data(client, raw[:-1] + f', "_sig_": "{data["_sig_"]}"}}')
    assert (status, body["status"]) == (200, 1), body
    assert sim.order(1)["amount"] == 25
