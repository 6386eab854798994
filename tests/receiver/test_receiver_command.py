"""`stripay-hooks receiver` (the entry point, not create_app) exports the queue gauges."""

from __future__ import annotations

import urllib.request

import httpx

from shared.settings import Settings
from tests.support.payloads import MERCHANT_KEY, order_payload
from tests.support.receiver import ReceiverProcess


def gauge(text: str, series: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_the_receiver_process_exports_the_queue_read_from_redis(redis_url: str) -> None:
    settings = Settings(merchant_keys=(MERCHANT_KEY,), redis_url=redis_url)
    with ReceiverProcess(settings) as receiver:
        metrics_url = receiver.metrics_url
        before = urllib.request.urlopen(metrics_url, timeout=10).read().decode()
        assert httpx.post(receiver.notify_url, json=order_payload(3), timeout=10).text == "OK"
        after = urllib.request.urlopen(metrics_url, timeout=10).read().decode()
    assert (gauge(before, "stripay_redis_up"), gauge(after, "stripay_redis_up")) == (1.0, 1.0)
    assert (gauge(before, 'stripay_queue_jobs{state="queued"}'), gauge(after, 'stripay_queue_jobs{state="queued"}')) == (
        0.0, 1.0)
