"""Recovery within 30 s of a crash, with no notification sent afterwards.

Each scenario sends a burst of notifications and waits until Stripay has every
one acknowledged, so nothing arrives after the fault. Stripay's API answers in
``LATENCY_S`` and fails a share of the calls, so when the fault strikes the
queue holds a backlog, workers are mid-job and retries wait on RQ's scheduler.
Then one fault:

* one worker process of the pool SIGKILLed mid-job (the pool starts another);
* the whole worker (pool, worker processes and RQ's scheduler) SIGKILLed, and a
  new ``stripay-hooks worker`` started;
* Redis SIGKILLed while workers take jobs, and restarted from its AOF.

Nothing is handed back by the test: the workers' own recovery pass (see
``worker/recovery.py``) must find the jobs the crash left behind. The recovery
time runs from the fault clearing (the kill, for a pool that starts its own
replacement; the new worker started; Redis answering again) to the last order
applied, is printed in the summary, and must stay within 30 s. (The receiver
killed under load is ``test_receiver_kills.py``.)
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.proof.harness import Stack, Workload, report, wait_until

RECOVERY_LIMIT_S = 30.0
LATENCY_S = 0.3
ERROR_RATE = 0.2  # calls answered 500 during the burst: retries wait on RQ's scheduler at the fault
ORDERS = 80
REDIS_OUTAGE_S = 10.0


def _kill_one_busy_worker(stack: Stack) -> float:
    pid, _ = stack.busy_workers()[0]
    os.kill(pid, signal.SIGKILL)
    return time.time()  # the pool starts its replacement by itself


def _kill_the_whole_worker(stack: Stack) -> float:
    stack.live_pools()[0].kill()
    stack.start_pool()
    return time.time()


def _kill_redis(stack: Stack) -> float:
    stack.redis_server.stop(kill=True)  # no shutdown save: the AOF only
    time.sleep(REDIS_OUTAGE_S)
    stack.redis_server.start()
    return time.time()


FAULTS: dict[str, Callable[[Stack], float]] = {
    "one worker process SIGKILL": _kill_one_busy_worker,
    "whole worker SIGKILL": _kill_the_whole_worker,
    "Redis SIGKILL": _kill_redis,
}


def _acknowledged_burst(stack: Stack) -> Workload:
    stack.sim.set_fault("/v1/order", latency_s=LATENCY_S, error_rate=ERROR_RATE)
    stack.start_pool()
    work = stack.workload(ORDERS, steps_per_s=400).start()
    work.join()
    stack.wait_deliveries_done(60)  # all acknowledged: no notification arrives after this
    assert stack.queue_state()["queued"] > 0, "no backlog left at the fault: the scenario proves little"
    return work


@pytest.mark.slow
@pytest.mark.parametrize("fault", list(FAULTS))
def test_every_acknowledged_notification_is_applied_within_30_s_of_a_crash(log_dir: Path, fault: str) -> None:
    with Stack(f"quiet recovery: {fault}", log_dir, time_scale=1000) as stack:
        work = _acknowledged_burst(stack)
        wait_until("workers busy", lambda: len(stack.busy_processes()) == stack.worker_processes, 10.0, poll_s=0.02)
        stack.sim.set_fault("/v1/order", latency_s=LATENCY_S)  # the API keeps its latency, stops failing
        cleared_at = FAULTS[fault](stack)
        wait_until("every acknowledged notification to be applied", lambda: stack.orders_applied(work),
                   RECOVERY_LIMIT_S * 4)
        recovery_s = stack.last_applied_at(work) - cleared_at
        timings = stack.recover(deliveries_timeout_s=10)
        verdict = stack.verdict(work)
        report(verdict, recovery_s=recovery_s, **timings)
    assert recovery_s <= RECOVERY_LIMIT_S, f"the last order was applied {recovery_s:.1f} s after the fault cleared"
