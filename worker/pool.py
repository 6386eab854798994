"""The worker class and pool housekeeping."""

from __future__ import annotations

from typing import Any

from rq import Queue, SimpleWorker
from rq.exceptions import DeserializationError
from rq.job import Job, JobStatus
from rq.utils import now
from rq.worker_pool import WorkerData, WorkerPool

from shared import metrics
from shared.logging import get_logger
from worker.job_guard import JobRefused, refusal_reason, shown_name

log = get_logger("worker.pool")

# RQ's default is 10 minutes; a killed worker's job is retried after its
# heartbeat expires (about 90 s) and the next maintenance run finds it.
MAINTENANCE_INTERVAL_S = 60


class StripayWorker(SimpleWorker):
    """RQ's in-process worker (no fork per job: metrics and HTTP pools live on)
    with a shorter maintenance interval, so abandoned jobs come back sooner."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("maintenance_interval", MAINTENANCE_INTERVAL_S)
        super().__init__(*args, **kwargs)

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        """RQ's start-up, then this process's context, so the first job does not pay for it."""
        super().bootstrap(*args, **kwargs)
        from worker.context import get_context

        try:
            get_context().warm_up()
        except Exception as err:  # noqa: BLE001 - an optimisation: the first job reports the real error
            log.warning("worker_warm_up_failed", error=type(err).__name__)

    def perform_job(self, job: Job, queue: Queue) -> bool:
        """Run the job only if it is one of this service's own (see :mod:`worker.job_guard`)."""
        reason = refusal_reason(job)
        if reason is None:
            return super().perform_job(job, queue)
        self.refuse_job(job, queue, reason)
        return False

    def refuse_job(self, job: Job, queue: Queue, reason: str) -> None:
        """Fail ``job`` for good without importing or calling anything it names."""
        try:
            func = shown_name(job.func_name)
        except Exception:  # noqa: BLE001 - unreadable data: the reason says so
            func = "?"
        log.warning("job_refused", job_id=job.id, func=func, reason=reason)
        metrics.jobs_refused_total.inc()
        try:
            self.prepare_job_execution(job, remove_from_intermediate_queue=len(self.queues) == 1)
        except DeserializationError:
            pass  # only RQ's process title wants the function name; the bookkeeping is written
        job.retries_left = 0
        job.webhooks = []
        job._status = JobStatus.FAILED
        job.ended_at = now()
        self.handle_job_failure(job, queue, exc_string=f"{JobRefused.__module__}.JobRefused: {reason}")


def on_worker_exit(pool: WorkerPool) -> None:
    """Mark a dead worker's gauges dead, so multiprocess metrics do not keep them."""
    from prometheus_client import multiprocess

    original = pool.handle_dead_worker

    def handle_dead_worker(worker_data: WorkerData) -> None:
        multiprocess.mark_process_dead(worker_data.pid)
        original(worker_data)

    pool.handle_dead_worker = handle_dead_worker  # type: ignore[method-assign]
