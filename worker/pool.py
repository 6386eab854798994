"""The worker class and pool housekeeping."""

from __future__ import annotations

from typing import Any

from rq import Queue, worker_registration
from rq.job import Job, JobStatus
from rq.registry import DeferredJobRegistry, FailedJobRegistry, FinishedJobRegistry
from rq.serializers import JSONSerializer
from rq.utils import ensure_job_list, now
from rq.worker import WorkerStatus
from rq.worker_pool import WorkerData, WorkerPool

from shared import metrics
from shared.logging import get_logger
from worker.bookkeeping import LeanBookkeeping
from worker.job_guard import JobRefused, refusal_reason, shown_name
from worker.recovery import LEASE_S, PASS_EVERY_S, JobLeases, Recovery

log = get_logger("worker.pool")

# RQ's housekeeping of its finished, failed and deferred registries (RQ's default is 10 minutes).
# Jobs of dead workers are not left to it: see worker.recovery.
MAINTENANCE_INTERVAL_S = 60
# RQ's worker key lives worker_ttl + 60 s after the last heartbeat (RQ's default ttl is 420 s).
WORKER_TTL_S = 20


class StripayWorker(LeanBookkeeping):
    """RQ's in-process worker (no fork per job: metrics and HTTP pools live on; a job's start and
    end written in one transaction each, :mod:`worker.bookkeeping`), with prompt recovery of
    crashed workers' jobs (:mod:`worker.recovery`):

    * an idle worker waits on the queue for ``PASS_EVERY_S`` at a time (RQ: ``worker_ttl - 15``,
      405 s by default), so a recovery pass and RQ's scheduler check run while the queue is quiet;
    * a running job's started-registry entry is a lease of ``LEASE_S``, renewed by a thread;
    * RQ's own hand-back of abandoned and stuck jobs (which spends a retry, and waits minutes)
      is replaced by the recovery pass, which spends none;
    * the queues always use the JSON serializer: RQ's ``WorkerPool`` builds them without it,
      and RQ's clean-up then reads jobs with the wrong serializer and stops the worker midway,
      leaving its maintenance lock held for up to 15 minutes.
    """

    def __init__(self, queues: Any, *args: Any, leases: JobLeases | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("maintenance_interval", MAINTENANCE_INTERVAL_S)
        kwargs.setdefault("worker_ttl", WORKER_TTL_S)
        kwargs.setdefault("serializer", JSONSerializer)
        # Queue names, not the pool's Queue objects: RQ then builds them with this worker's serializer.
        queues = [queue.name if isinstance(queue, Queue) else queue for queue in ensure_job_list(queues)]
        super().__init__(queues, *args, **kwargs)
        self.recovery = Recovery(self.connection)
        self.leases = leases or JobLeases(self.connection)  # one per process: threads share it

    @property
    def dequeue_timeout(self) -> int:
        return PASS_EVERY_S

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
        # Its start is written (prepare_execution, worker.bookkeeping): it fails as a job that ran.
        job.retries_left = 0
        job.webhooks = []
        job._status = JobStatus.FAILED
        job.ended_at = now()
        self.handle_job_failure(job, queue, exc_string=f"{JobRefused.__module__}.JobRefused: {reason}")

    # --- the lease of a running job

    def get_heartbeat_ttl(self, job: Job) -> int:
        """The started-registry entry (and execution) of a job lasts one lease, renewed while it runs."""
        return LEASE_S

    def execute_job(self, job: Job, queue: Queue) -> None:
        execution = self.prepare_execution(job)
        self.leases.hold(execution.composite_key, self.key)
        try:
            self.perform_job(job, queue)
        finally:
            self.leases.release(execution.composite_key)
        if self.get_state() != WorkerStatus.IDLE:  # a success wrote it with the job's bookkeeping
            self.set_state(WorkerStatus.IDLE)

    # --- maintenance: the recovery pass often, RQ's housekeeping every MAINTENANCE_INTERVAL_S

    @property
    def should_run_maintenance_tasks(self) -> bool:
        return self.recovery.due() or super().should_run_maintenance_tasks

    def run_maintenance_tasks(self) -> None:
        if super().should_run_maintenance_tasks:
            super().run_maintenance_tasks()
        result = self.recovery.run() if self.recovery.due() else None
        if result is not None and result.scheduler_lock_free:
            self._take_scheduler()

    def _take_scheduler(self) -> None:
        """Run RQ's scheduler here when no live scheduler holds its lock (RQ itself retries every
        maintenance interval, after the lock's 61 s TTL)."""
        scheduler = self.scheduler
        if scheduler is not None and (scheduler._process is None or not scheduler._process.is_alive()):
            if scheduler.acquire_locks(auto_start=True):
                log.info("scheduler_taken_over", worker=self.name)

    def clean_registries(self) -> None:
        """RQ's housekeeping without its started-registry and intermediate-list clean-ups, which
        :class:`worker.recovery.Recovery` does sooner and without spending a retry."""
        housekeeping(self.queues)
        self.last_cleaned_at = now()


def housekeeping(queues: list[Queue]) -> None:
    """RQ's clean-up of its finished, failed and deferred registries and of its worker registry,
    under RQ's maintenance lock; never RQ's hand-back of abandoned jobs (see StripayWorker)."""
    for queue in queues:
        if queue.acquire_maintenance_lock():
            try:
                for registry in (FinishedJobRegistry, FailedJobRegistry, DeferredJobRegistry):
                    registry(queue=queue, job_class=queue.job_class).cleanup()
                worker_registration.clean_worker_registry(queue)
            finally:
                queue.release_maintenance_lock()


def on_worker_exit(pool: WorkerPool) -> None:
    """Mark a dead worker's gauges dead, so multiprocess metrics do not keep them."""
    from prometheus_client import multiprocess

    original = pool.handle_dead_worker

    def handle_dead_worker(worker_data: WorkerData) -> None:
        multiprocess.mark_process_dead(worker_data.pid)
        original(worker_data)

    pool.handle_dead_worker = handle_dead_worker  # type: ignore[method-assign]


class ThreadedWorkerPool(WorkerPool):
    """RQ's process pool (respawns a dead process every second, SIGINT to each on stop), each
    process running ``threads`` jobs at once (:mod:`worker.threads`)."""

    def __init__(self, settings: Any, threads: int, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings = settings
        self.threads = threads

    def get_worker_process(self, name: str, burst: bool, _sleep: float = 0, logging_level: str = "INFO") -> Any:
        from rq.worker_pool import ForkProcess

        from worker.threads import run_threaded_process

        return ForkProcess(target=run_threaded_process, args=(self.settings, self.threads, burst),
                           name=f"stripay-worker {name}")
