"""/metrics (the admin surface) is served on the receiver's metrics port, never on its public port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from shared.embedded_redis import free_port
from shared.settings import Settings
from tests.support.payloads import MERCHANT_KEY, order_payload
from tests.support.receiver import ReceiverProcess

NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(url: str) -> tuple[int, str]:
    try:
        with NO_PROXY.open(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def post_json(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with NO_PROXY.open(request, timeout=5) as response:
        return response.status


@pytest.fixture
def receiver(settings: Settings):
    with ReceiverProcess(settings) as process:
        yield process


def test_metrics_are_not_served_on_the_public_port(receiver: ReceiverProcess) -> None:
    assert get(f"{receiver.url}/metrics")[0] == 404
    assert get(f"{receiver.url}/healthz")[0] == 200
    assert get(f"{receiver.url}/readyz")[0] == 200


def test_metrics_are_served_on_the_metrics_port(receiver: ReceiverProcess) -> None:
    status, before = get(receiver.metrics_url)
    assert status == 200
    assert post_json(receiver.notify_url, json.dumps(order_payload(5)).encode()) == 200
    _, after = get(receiver.metrics_url)
    line = 'stripay_notifications_total{result="accepted"} '
    count = {text: float(text.split(line, 1)[1].split()[0]) for text in (before, after)}
    assert count[after] == count[before] + 1


def test_the_metrics_port_serves_nothing_else(receiver: ReceiverProcess) -> None:
    base = receiver.metrics_url.removesuffix("/metrics")
    for path in ("/stripay/notify", "/healthz", "/readyz"):
        assert get(f"{base}{path}")[0] in (404, 405), path


def test_metrics_port_zero_serves_no_metrics_anywhere(settings: Settings) -> None:
    with ReceiverProcess(settings, extra_env={"METRICS_PORT": "0"}) as process:
        assert get(f"{process.url}/metrics")[0] == 404


def run_receiver(redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REDIS_URL": redis_url, "STRIPAY_MERCHANT_KEY": MERCHANT_KEY, "HOST": "127.0.0.1"}
    return subprocess.run([sys.executable, "-m", "cli", "receiver", *args], env=env,
                          capture_output=True, text=True, timeout=30)


def test_metrics_port_equal_to_the_public_port_is_refused(redis_url: str) -> None:
    port = str(free_port())
    result = run_receiver(redis_url, "--port", port, "--metrics-port", port)
    assert result.returncode == 2
    assert "metrics port" in result.stderr and "Traceback" not in result.stderr


def test_a_taken_metrics_port_stops_start_up_with_one_line(redis_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        metrics_port = str(taken.getsockname()[1])
        result = run_receiver(redis_url, "--port", str(free_port()), "--metrics-port", metrics_port)
    assert result.returncode == 1
    assert "cannot listen" in result.stderr and "Traceback" not in result.stderr
