"""No URL from the request: Stripay's notify and success URLs come from STRIPAY_PUBLIC_URL only,
redirects go only to allowed hosts, and without a public URL the endpoints are off (503)."""

import json
from dataclasses import replace

import pytest

from tests.billrun.helpers import (
    GET_REQUEST,
    OK_PAGE,
    get_request,
    send_data,
    signed_data,
    stripay_calls,
)


def billrun_keys(redis_client) -> list[bytes]:
    return list(redis_client.scan_iter("stripay:billrun:*"))


async def test_forged_host_and_forwarded_headers_do_not_change_stripays_urls(client, sim, billrun_settings) -> None:
    headers = {"Host": "attacker.example", "X-Forwarded-Host": "attacker.example", "X-Forwarded-Proto": "https",
               "Forwarded": "host=attacker.example;proto=https"}
    status, _body = await send_data(client, signed_data(), headers=headers)
    assert status == 200
    order = sim.order(1)
    base = billrun_settings.public_url
    assert order["successUrl"] == f"{base}/paymentgateways/okPage?txId={order['merchantOrderId']}"
    assert order["notifyUrl"] == f"{base}/stripay/notify"
    assert "attacker" not in json.dumps(order)


async def test_forwarded_for_does_not_choose_the_ip_sent_to_stripay(client, sim) -> None:
    await send_data(client, signed_data(), headers={"X-Forwarded-For": "198.51.100.66"})
    assert sim.order(1)["ip"] == "127.0.0.1"


@pytest.mark.parametrize(
    ("field", "url", "reason"),
    [
        ("ok_page", "https://attacker.example/ok", "ok_page host attacker.example is not an allowed redirect host"),
        ("fail_page", "https://billrun.example.attacker.example/f",
         "fail_page host billrun.example.attacker.example is not an allowed redirect host"),
        ("ok_page", "http://billrun.example/ok", "ok_page must be https (http only on a loopback host)"),
        ("ok_page", "https://billrun.example/ok?txId=1", "ok_page must not already carry txId in its query"),
        ("fail_page", "https://billrun.example/f?status=paid", "fail_page must not already carry status in its query"),
        ("ok_page", "https://user@attacker.example/ok", "ok_page must name a host (no user info)"),
    ],
)
async def test_foreign_or_unsafe_pages_are_refused_and_create_nothing(client, sim, redis_client, field, url,
                                                                     reason) -> None:
    before = stripay_calls("/v1/checkout/pay")
    status, body = await get_request(client, **{field: url})
    assert (status, body) == (400, {"status": 0, "desc": reason})
    assert billrun_keys(redis_client) == []
    assert stripay_calls("/v1/checkout/pay") == before


async def test_wildcard_redirect_host_allows_subdomains_only(start, billrun_settings, sim) -> None:
    client = await start(replace(billrun_settings, billrun=replace(billrun_settings.billrun,
                                                                   redirect_hosts=("*.billrun.example",))))
    ok = await get_request(client, ok_page="https://eu.billrun.example/ok", fail_page="https://eu.billrun.example/f")
    assert ok[0] == 200
    refused = await get_request(client)  # billrun.example itself
    assert refused == (400, {"status": 0, "desc": "ok_page host billrun.example is not an allowed redirect host"})


async def test_without_redirect_hosts_only_the_public_urls_host_is_allowed(start, billrun_settings, sim) -> None:
    client = await start(replace(billrun_settings, billrun=replace(billrun_settings.billrun, redirect_hosts=())))
    assert (await get_request(client))[0] == 400
    status, _body = await get_request(client, ok_page="http://127.0.0.1:9/ok", fail_page="http://127.0.0.1:9/f")
    assert status == 200


@pytest.mark.parametrize(("change", "reason"), [
    ({"public_url": None}, "STRIPAY_PUBLIC_URL is not set"),
    ({"secrets": ()}, "BILLRUN_SHARED_SECRETS is not set"),
])
async def test_endpoints_are_off_without_their_settings(start, billrun_settings, sim, redis_client, capsys, change,
                                                        reason) -> None:
    from shared.logging import configure_logging

    configure_logging(json_lines=True)
    settings = billrun_settings
    if "public_url" in change:
        settings = replace(settings, public_url=None)
    else:
        settings = replace(settings, billrun=replace(settings.billrun, shared_secrets=()))
    client = await start(settings)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert [line["reason"] for line in lines if line.get("event") == "billrun_disabled"] == [reason]
    for method, path in (("GET", GET_REQUEST), ("POST", GET_REQUEST), ("GET", OK_PAGE)):
        response = await client.request(method, path, params={"data": json.dumps(signed_data()), "txId": "1"})
        assert response.status == 503
        assert await response.json() == {"status": 0, "desc": f"BillRun endpoints are off: {reason}"}
    assert billrun_keys(redis_client) == []
    assert (await client.get("/healthz")).status == 200  # the rest of the receiver is served
