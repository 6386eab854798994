"""Worker processes killed with SIGKILL mid-job, again and again, under load.

Individual workers of a pool are killed while RQ says they are busy (the pool
respawns them), and once a whole pool (pool process, workers and RQ's
scheduler) is killed and a new pool started. A killed worker's job is left in
RQ's started registry; the workers' own recovery pass hands it back once its
lease runs out (``worker/recovery.py``; the test hands nothing back) and the
checks see each ran to the end.
"""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path

import pytest
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from shared.jobs import QUEUE_NAME
from tests.proof.harness import Stack, periodic, report, wait_until

KILL_EVERY_S = 0.5
WHOLE_POOL_KILLS_AT = (0.1, 0.55)  # shares of the workload driven


@pytest.mark.slow
def test_workers_killed_mid_job_lose_nothing_and_publish_once(log_dir: Path) -> None:
    rng = random.Random(1)
    with Stack("worker SIGKILL", log_dir, time_scale=1000) as stack:
        # Stripay answering in 50 ms, a realistic latency: a worker spends most of a job waiting on it.
        stack.sim.set_fault("/v1/order", latency_s=0.05)
        stack.start_pool()
        work = stack.workload(500, steps_per_s=50).start()
        started = StartedJobRegistry(QUEUE_NAME, connection=stack.redis, serializer=JSONSerializer)
        killed_jobs: list[str] = []

        def kill_a_busy_worker() -> None:
            busy = stack.busy_workers()
            if busy:
                pid, job_id = rng.choice(busy)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    return  # it died with its whole pool a moment ago
                killed_jobs.append(job_id)

        with periodic(kill_a_busy_worker, KILL_EVERY_S):
            for share in WHOLE_POOL_KILLS_AT:
                work.wait_progress(share)
                # The whole pool: pool process, workers and, in the first one, RQ's scheduler.
                stack.live_pools()[0].kill()
                stack.start_pool()
            work.join()
            wait_until("the queue to drain", lambda: stack.queue_state()["queued"] == 0, 120.0)
        stack.sim.clear_faults()
        # Mid-job: the killed worker's job is still in RQ's started registry, not finished.
        in_started = {entry.split(":")[0] for entry in started.get_job_ids(cleanup=False)}
        killed_mid_job = len(set(killed_jobs) & in_started)
        pool = stack.pools[-1]
        wait_until("the pool to respawn its killed workers", lambda: len(pool.workers()) == stack.worker_processes,
                   15.0)
        timings = stack.recover()
        verdict = stack.verdict(work)
        report(verdict, worker_kills=len(killed_jobs), killed_mid_job=killed_mid_job,
               pools_killed=len(WHOLE_POOL_KILLS_AT), **timings)
    assert len(killed_jobs) >= 20, f"only {len(killed_jobs)} workers were caught busy and killed"
    assert killed_mid_job >= 10, f"only {killed_mid_job} kills left their job in the started registry"
    assert timings["abandoned"] >= killed_mid_job
