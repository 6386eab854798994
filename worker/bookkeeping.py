"""RQ's bookkeeping of a job's start and end: two transactions instead of eight round trips.

RQ 2.12's ``SimpleWorker`` starts a job with three round trips (the execution
and the worker's state in one transaction, the job's and the worker's fields in
another, ``PERSIST`` of the job in ``Job.perform``) and ends a successful one
with five: ``HSET last_heartbeat`` on the job (``handle_execution_ended``),
``WATCH`` and ``SMEMBERS`` of the job's dependents key
(``Queue.enqueue_dependents``), the transaction that records the success, and
``HSET state idle`` on the worker. Here each is one transaction, writing the
same fields, keys and registries (tests/worker/test_bookkeeping.py holds them
equal to RQ's):

* the start's three steps are one ``MULTI``/``EXEC`` (so the recovery pass
  also never sees a job half started);
* ``last_heartbeat`` is only set on the job: every way on from there (success,
  failure, retry) saves the whole job hash, that field included;
* dependents: no job of this service has any. :mod:`shared.jobs` writes and
  queues every job, none with ``depends_on`` (the only way a job gets
  dependents), and the worker runs no other (:mod:`worker.job_guard`);
* the worker's state goes back to idle in the success's transaction, with RQ's
  removal of its current job (``execute_job`` writes it on the other paths).
"""

from __future__ import annotations

from typing import Any

from rq import Queue, SimpleWorker
from rq.executions import Execution
from rq.intermediate_queue import IntermediateQueue
from rq.job import Job, _job_stack
from rq.registry import StartedJobRegistry
from rq.utils import now
from rq.worker import WorkerStatus


class StartedJob(Job):
    """RQ's job, whose key the worker's start makes persistent (a replayed failed job's key
    still has the failed job's TTL)."""

    def perform(self) -> Any:
        """RQ's ``Job.perform`` without its ``PERSIST``: :meth:`LeanBookkeeping.prepare_execution` sends it."""
        _job_stack.push(self)  # what rq.get_current_job() reads
        try:
            self._result = self._execute()
        finally:
            assert self is _job_stack.pop()
        return self._result


class LeanBookkeeping(SimpleWorker):
    """The start and the successful end of a job in RQ's ``BaseWorker`` (``execute_job`` and
    ``perform_job`` call these), each in one transaction."""

    job_class = StartedJob

    def prepare_execution(self, job: Job) -> Execution:
        """RQ's ``prepare_execution`` and ``prepare_job_execution`` (a no-op here), and ``PERSIST``."""
        with self.connection.pipeline() as pipeline:
            heartbeat_ttl = self.get_heartbeat_ttl(job)
            self.execution = Execution.create(job, heartbeat_ttl, pipeline=pipeline, worker_name=self.name)
            self.set_state(WorkerStatus.BUSY, pipeline=pipeline)
            self.set_current_job_id(job.id, pipeline=pipeline)
            self.set_current_job_working_time(0, pipeline=pipeline)
            self.heartbeat(heartbeat_ttl, pipeline=pipeline)
            job.heartbeat(now(), heartbeat_ttl, pipeline=pipeline)
            job.prepare_for_execution(self.name, pipeline=pipeline)
            if len(self.queues) == 1:  # RQ's condition for taking the job off its intermediate list
                queue_key = Queue.redis_queue_namespace_prefix + job.origin
                pipeline.lrem(IntermediateQueue.get_intermediate_queue_key(queue_key), 1, job.id)
            pipeline.persist(job.key)
            pipeline.execute()
        return self.execution

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        pass  # written with the execution by prepare_execution

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        job.ended_at = now()
        job.last_heartbeat = now()  # RQ's job.heartbeat() without its HSET: the job's next save writes it

    def handle_job_success(self, job: Job, queue: Queue, started_job_registry: StartedJobRegistry) -> None:
        """RQ's, without ``enqueue_dependents`` and the ``WATCH`` guarding it, and with the worker's
        state written in its transaction."""
        assert job.started_at is not None and job.ended_at is not None
        with self.connection.pipeline() as pipeline:  # MULTI/EXEC, as RQ's after its WATCH
            self.increment_successful_job_count(pipeline=pipeline)
            self.increment_total_working_time(job.ended_at - job.started_at, pipeline)
            result_ttl = job.get_result_ttl(self.default_result_ttl)
            if result_ttl != 0:
                execution = self.execution
                job._handle_success(
                    result_ttl, pipeline=pipeline, worker_name=self.name,
                    execution_id=execution.id if execution else None,
                    execution_started_at=execution.created_at if execution else None,
                    execution_ended_at=job.ended_at,
                )
            if job.repeats_left is not None and job.repeats_left > 0:
                from rq.repeat import Repeat

                Repeat.schedule(job, queue, pipeline=pipeline)
            else:
                job.cleanup(result_ttl, pipeline=pipeline, remove_from_queue=False)
            self.cleanup_execution(job, pipeline=pipeline)
            pipeline.hset(self.key, "state", WorkerStatus.IDLE)  # set_state's write
            pipeline.execute()
        self._state = WorkerStatus.IDLE  # set_state's record of it, once written
        self.log.info("Successfully completed %s job in %ss on worker %s",
                      job.description if self.log_job_description else job.id, job.ended_at - job.started_at,
                      self.name)
