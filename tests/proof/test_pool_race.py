"""Two worker pools racing on the same orders, plus extra jobs that bypass the dedupe.

Besides the receiver's one job per notification, every acknowledged
notification gets two more reconcile jobs written straight to the queue
(``shared.jobs.enqueue``, as an operator's replay or a sweep would),
back to back, so two pools of two workers each run up to three jobs for one
notification at the same moment. Redis serialises the order store's apply
script: each transition is published once.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from shared.jobs import enqueue, reconcile_job
from tests.proof.harness import Stack, periodic, report

EXTRA_JOBS = 2


@pytest.mark.slow
def test_two_pools_and_extra_jobs_publish_each_transition_once(log_dir: Path) -> None:
    with Stack("two pools racing", log_dir, time_scale=1000) as stack:
        stack.start_pool()
        stack.start_pool()
        work = stack.workload(500, steps_per_s=60).start()
        assert stack.redis is not None
        seen: set[tuple[Any, ...]] = set()
        extra = 0

        def enqueue_extra_jobs() -> None:
            nonlocal extra
            for entry in stack.sim.deliveries():
                key = (entry["order_id"], entry["status"], entry["payload"]["updatedAt"])
                if entry["ok"] and key not in seen:
                    seen.add(key)
                    for _ in range(EXTRA_JOBS):
                        enqueue(stack.redis, reconcile_job(entry["payload"], time.time(), stack.settings))
                        extra += 1

        with periodic(enqueue_extra_jobs, 0.3):
            work.join()
            stack.wait_deliveries_done(60)
        enqueue_extra_jobs()
        timings = stack.recover()
        verdict = stack.verdict(work)
        report(verdict, pools=2, extra_jobs=extra, **timings)
    assert extra >= verdict.orders
