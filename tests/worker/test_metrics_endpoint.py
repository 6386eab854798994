"""Worker metrics are summed across the pool's processes."""

import os
import signal
import time
import urllib.request

from shared.embedded_redis import free_port
from shared.notification_enqueuer import NotificationEnqueuer
from tests.support.payloads import signed
from tests.support.worker import rq_queue, spawn_worker


def scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def test_reconcile_counts_from_every_process_are_exported(ctx, sim, worker_settings) -> None:
    events = NotificationEnqueuer(ctx.redis, ctx.settings)
    count = 12
    for _ in range(count):
        order = sim.set_status(sim.create_order()["id"], "completed")
        events.enqueue(signed({k: v for k, v in order.items() if k != "sign"}), time.time())
    port = free_port()
    worker = spawn_worker(worker_settings, "--processes", "2", "--metrics-port", str(port))
    try:
        deadline = time.monotonic() + 30
        while rq_queue(ctx.redis).count:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        deadline = time.monotonic() + 30
        samples: dict[str, float] = {}
        while True:
            try:
                samples = scrape(port)
                if samples.get('stripay_reconcile_total{outcome="applied"}') == count:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"metrics never showed every reconcile: {samples}"
            time.sleep(0.1)
        assert samples['stripay_reconcile_seconds_count'] == count
        assert samples['stripay_order_transitions_total{from="none",to="completed"}'] == count
    finally:
        os.kill(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
