"""What the BillRun endpoints log: one line per request, never a shared secret or the merchant key;
the one never-500 path logs the traceback."""

import json
from dataclasses import replace

from shared.logging import configure_logging
from tests.billrun.helpers import (
    OLD_SHARED_SECRET,
    SHARED_SECRET,
    checkout,
    get_request,
    new_transaction,
    ok_page,
    send_data,
    signed_data,
)
from tests.support.payloads import MERCHANT_KEY


def log_lines(capsys) -> tuple[str, list[dict]]:
    err = capsys.readouterr().err
    return err, [json.loads(line) for line in err.splitlines() if line.startswith("{")]


async def test_secrets_and_the_merchant_key_never_reach_a_log_line(start, billrun_settings, sim, capsys) -> None:
    configure_logging(json_lines=True)
    settings = replace(billrun_settings, billrun=replace(billrun_settings.billrun,
                                                         shared_secrets=(SHARED_SECRET, OLD_SHARED_SECRET)))
    client = await start(settings)
    tx_id, _order_id, page_url = await new_transaction(client)
    await checkout(page_url, "success")
    await ok_page(client, tx_id)
    await send_data(client, signed_data(secret="wrong-secret-but-long-enough"))
    data = signed_data()
    await send_data(client, data)
    await send_data(client, data)  # replayed
    sim.set_fault("/v1/checkout/pay", status=401)
    await get_request(client)
    err, lines = log_lines(capsys)
    events = [line.get("event") for line in lines]
    assert "billrun_get_request" in events and "billrun_ok_page" in events and "billrun_enabled" in events
    for secret in (SHARED_SECRET, OLD_SHARED_SECRET, MERCHANT_KEY):
        assert secret not in err


async def test_unexpected_error_answers_503_and_logs_the_traceback(client, sim, redis_server, capsys) -> None:
    configure_logging(json_lines=True)
    redis_server.stop()
    try:
        status, body = await get_request(client)
    finally:
        redis_server.start()
    assert (status, body) == (503, {"status": 0, "desc": "temporarily unavailable"})
    _err, lines = log_lines(capsys)
    [line] = [line for line in lines if line.get("event") == "billrun_unavailable"]
    assert "Traceback" in line["exception"] and line["path"] == "/paymentgateways/getRequest"
