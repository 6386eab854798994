"""`stripay-hooks dev --simulator`: the quick start's service command, end to end."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import pytest
import redis

from cli.dev_cmd import DEV_BILLRUN_SECRET
from shared.billrun_signature import sign
from shared.embedded_redis import free_port
from shared.order_store import OrderStore

WAIT_S = 30.0


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            if urllib.request.urlopen(url, timeout=1).status == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"{url} never became ready"
        time.sleep(0.1)


def billrun_checkout_page(port: int) -> None:
    """The BillRun endpoints are served: a getRequest signed with the development secret gets a checkout page."""
    data = sign({"_t_": str(int(time.time())), "ok_page": f"http://127.0.0.1:{port}/ok",
                 "fail_page": f"http://127.0.0.1:{port}/fail", "amount": 5}, DEV_BILLRUN_SECRET)
    url = f"http://127.0.0.1:{port}/paymentgateways/getRequest?" + urllib.parse.urlencode({"data": json.dumps(data)})
    with urllib.request.urlopen(url, timeout=WAIT_S) as response:
        answer = json.loads(response.read())
    assert answer["status"] == 1 and answer["details"]["url"].startswith("http://127.0.0.1:")


def test_dev_runs_receiver_worker_simulator_and_embedded_redis() -> None:
    port, sim_port, metrics_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "STRIPAY_MERCHANT_KEY", "STRIPAY_API_URL", "STRIPAY_PUBLIC_URL")
           and not k.startswith("BILLRUN_")}
    with tempfile.TemporaryFile() as stderr:
        dev = subprocess.Popen(
            [sys.executable, "-m", "cli", "dev", "--simulator", "--port", str(port), "--simulator-port", str(sim_port),
             "--metrics-port", str(metrics_port)],
            env=env, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}/readyz")
            wait_ready(f"http://127.0.0.1:{sim_port}/_sim/deliveries")
            wait_ready(f"http://127.0.0.1:{metrics_port}/metrics")
            trigger = subprocess.run(
                [sys.executable, "-m", "cli", "trigger", "completed", "--simulator", f"http://127.0.0.1:{sim_port}",
                 "--notify-url", f"http://127.0.0.1:{port}/stripay/notify", "--json"],
                env=env, capture_output=True, text=True, timeout=WAIT_S,
            )
            assert trigger.returncode == 0, trigger.stderr
            report = json.loads(trigger.stdout)
            order_id = report["order"]["id"]
            stderr.seek(0)
            redis_url = re.search(rb"Redis:\s+(\S+)", stderr.read()).group(1).decode()
            client = redis.Redis.from_url(redis_url)
            store = OrderStore(client)
            deadline = time.monotonic() + WAIT_S
            while (stored := store.get(order_id)) is None or stored.status != "completed":
                assert time.monotonic() < deadline, "the worker never applied the order"
                time.sleep(0.1)
            client.close()
            billrun_checkout_page(port)
        finally:
            os.kill(dev.pid, signal.SIGTERM)
            assert dev.wait(timeout=WAIT_S) == 0
    # SIGTERM stopped the receiver, the worker, the simulator and the embedded Redis too.
    for stopped in (port, sim_port, metrics_port, int(redis_url.rsplit(":", 1)[1].split("/")[0])):
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", stopped), timeout=1).close()
