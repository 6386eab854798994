"""Redis killed (SIGKILL) for 30 s under load, with workers mid-job, then started on the
same port and data dir.

The receiver answers 503 while Redis is away, so Stripay retries; what it
acknowledged before is in the AOF (fsync always). The worker pool rides it
out: workers that die on the lost connection are respawned by the pool.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.proof.harness import Stack, report, wait_until

# Stripay's retries compressed 120 times: attempts at 0, 5, 20, 50 and 770 s, so a
# notification first refused at the very start of the outage is delivered by its 4th attempt.
TIME_SCALE = 120
OUTAGE_S = 30.0


@pytest.mark.slow
def test_redis_down_for_30_s_loses_nothing(log_dir: Path) -> None:
    with Stack("Redis down 30 s", log_dir, time_scale=TIME_SCALE) as stack:
        pool = stack.start_pool()
        work = stack.workload(500, steps_per_s=25).start()
        work.wait_progress(0.15)
        # Slow answers from Stripay for a moment, so that workers are mid-job when Redis dies.
        stack.sim.set_fault("/v1/order", latency_s=0.5)
        wait_until("workers busy", lambda: len(stack.busy_processes()) == stack.worker_processes, 10.0, poll_s=0.02)
        busy_at_kill = len(stack.busy_workers())
        stack.redis_server.stop(kill=True)  # no shutdown save: the AOF only
        stack.sim.clear_faults()
        time.sleep(OUTAGE_S)
        stack.redis_server.start()
        pool_survived = pool.alive()
        work.join()
        timings = stack.recover(deliveries_timeout_s=150)
        verdict = stack.verdict(work)
        unavailable = sum(1 for entry in stack.sim.deliveries() if entry["http_status"] == 503)
        report(verdict, outage_s=OUTAGE_S, busy_workers_at_kill=busy_at_kill, answered_503=unavailable, **timings)
    assert pool_survived, "the worker pool process died with Redis"
    assert unavailable > 0, "the receiver never answered 503: the outage proved nothing"
