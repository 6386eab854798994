"""Stripay's order API down (503), slow (2 s per answer) or failing half the time, then back.

Reconcile jobs that cannot read the order are retried on ``STRIPAY_RETRY_S``
(compressed to 1, 1, 2, 3, 5 s here, RQ's scheduler moving them back); the
fault lasts less than the retries do, so every job ends with the API's state.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.proof.harness import Stack, report

FAULTS: dict[str, tuple[dict[str, Any], float]] = {
    # name: (fault rule for /v1/order, seconds it lasts)
    "down": ({"status": 503}, 6.0),
    "slow": ({"latency_s": 2.0}, 8.0),
    "flaky": ({"error_rate": 0.5}, 8.0),
}


@pytest.mark.slow
@pytest.mark.parametrize("fault", list(FAULTS))
def test_api_fault_then_recovery_loses_nothing(log_dir: Path, fault: str) -> None:
    rule, lasts_s = FAULTS[fault]
    with Stack(f"Stripay API {fault}", log_dir, time_scale=1000) as stack:
        pool = stack.start_pool()
        work = stack.workload(500, steps_per_s=60).start()
        work.wait_progress(0.25)
        stack.sim.set_fault("/v1/order", **rule)
        time.sleep(lasts_s)
        stack.sim.clear_faults()
        work.join()
        timings = stack.recover()
        verdict = stack.verdict(work)
        retried = pool.counters_seen.get("retry", 0)
        report(verdict, fault_s=lasts_s, job_retries=int(retried), **timings)
    if fault != "slow":
        assert retried > 0, "no job was retried: the fault proved nothing"
