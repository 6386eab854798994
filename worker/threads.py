"""K jobs at once in one worker process: K RQ ``SimpleWorker`` instances as threads.

A reconcile spends most of its time waiting for Stripay's API, so one process
runs ``threads`` jobs at once. Each thread is a full RQ worker of its own
(registered, with its own started-registry entry and lease per job), so a
crash loses no more than with separate processes. The main thread alone
handles signals, RQ's housekeeping, the recovery pass and RQ's scheduler
(ticked here every second rather than in a forked process). Job timeouts are
raised in the job's thread by the process's watchdog thread
(:mod:`worker.watchdog`; RQ's signal-based timeout works in the main thread only).

SIGTERM or SIGINT: every thread finishes the job in hand and takes no new
one; a second signal (2 s or more after the first) exits at once (the leases of the jobs in hand then run
out and the recovery pass of another worker hands them back).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import redis
from rq import Queue
from rq.exceptions import DequeueTimeout
from rq.job import Job
from rq.scheduler import RQScheduler
from rq.serializers import JSONSerializer
from rq.worker import WorkerStatus

from shared.jobs import QUEUE_NAME
from shared.logging import get_logger
from shared.settings import Settings
from worker.pool import MAINTENANCE_INTERVAL_S, StripayWorker, housekeeping
from worker.recovery import JobLeases, Recovery
from worker.watchdog import WatchdogDeathPenalty

log = get_logger("worker.threads")

# A thread waits on the queue this long at a time: the main thread does the periodic work, so
# this only bounds how long a stop waits for an idle thread, and sets the idle Redis traffic.
THREAD_DEQUEUE_TIMEOUT_S = 5
# A thread renews its worker key (TTL WORKER_TTL_S + 60 s) before taking a job only when its last
# renewal is this old: a busy thread renews it with every job's start, an idle one every other wait.
HEARTBEAT_EVERY_S = 10.0
TICK_S = 1.0  # the main thread's period: the scheduler's, as RQ's own scheduler process
RESTART_DELAY_S = 1.0  # before a thread that ended on an error is started again
SECOND_SIGNAL_AFTER_S = 2.0  # a stop signal this long after the first one: exit at once


class ThreadWorker(StripayWorker):
    """One RQ worker run by a thread: no signal handlers, no pubsub, no periodic work of its own."""

    death_penalty_class = WatchdogDeathPenalty

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._next_heartbeat = 0.0  # monotonic

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ's, never shortening the worker key's life below ``worker_ttl + 60`` s. RQ renews it as a
        job starts for the job's heartbeat TTL, here the lease's 8 s, and then again before the
        next take; :meth:`_take` now renews it only every ``HEARTBEAT_EVERY_S``."""
        super().heartbeat(max(timeout or 0, self.worker_ttl + 60), pipeline)
        self._next_heartbeat = time.monotonic() + HEARTBEAT_EVERY_S

    @property
    def dequeue_timeout(self) -> int:
        return THREAD_DEQUEUE_TIMEOUT_S

    @property
    def should_run_maintenance_tasks(self) -> bool:
        return False  # the main thread's

    def _install_signal_handlers(self) -> None:
        pass  # the main thread's

    def subscribe(self) -> None:
        pass  # RQ's per-worker command channel: one connection and thread each, not worth K of them

    def unsubscribe(self) -> None:
        pass

    def procline(self, message: str) -> None:
        pass  # one process title for K threads

    def run(self, burst: bool) -> None:
        """The thread's loop: take a job, run it, until a stop is requested (or, in burst mode,
        the queue is empty). Redis errors are waited out; the lease of a job in hand runs out."""
        # RQ's own lines per job (taken, OK, result kept) at WARNING: each job logs one summary line of its own.
        self.bootstrap(logging_level="WARNING")
        self.set_state(WorkerStatus.IDLE)
        backoff_s = 1.0
        try:
            while not self._stop_requested:
                try:
                    taken = self._take(burst)
                    if taken is None:
                        if burst:
                            break
                        continue
                    self.execute_job(*taken)  # its start renewed the worker's key
                    backoff_s = 1.0
                except redis.exceptions.RedisError as err:
                    log.warning("worker_thread_redis_error", worker=self.name, error=type(err).__name__)
                    time.sleep(backoff_s)
                    backoff_s = min(backoff_s * 2, 30.0)
        finally:
            try:
                self.teardown()
            except redis.exceptions.RedisError:
                pass  # the worker key expires by itself

    def _take(self, burst: bool) -> tuple[Job, Queue] | None:
        if time.monotonic() >= self._next_heartbeat:
            self.heartbeat()
        try:
            taken = self.queue_class.dequeue_any(
                self._ordered_queues, None if burst else self.dequeue_timeout, connection=self.connection,
                job_class=self.job_class, serializer=self.serializer, death_penalty_class=self.death_penalty_class,
            )
        except DequeueTimeout:
            return None
        if taken is not None:
            taken[0].redis_server_version = self.get_redis_server_version()
        return taken


class ThreadedProcess:
    """One worker process: ``threads`` job threads and the main thread's periodic work."""

    def __init__(self, connection: redis.Redis, threads: int, burst: bool) -> None:
        self.connection = connection
        self.burst = burst
        self.leases = JobLeases(connection)
        self.recovery = Recovery(connection)
        self.scheduler = RQScheduler([QUEUE_NAME], connection=connection, serializer=JSONSerializer)
        self.queues = [Queue(QUEUE_NAME, connection=connection, serializer=JSONSerializer)]
        self.workers: list[ThreadWorker | None] = [None] * threads
        self.threads: list[threading.Thread | None] = [None] * threads
        self.restart_at = [0.0] * threads
        self.stopping = threading.Event()
        self.stop_requested_at = 0.0
        self.next_housekeeping = 0.0

    def request_stop(self, signum: int, frame: Any) -> None:
        if self.stopping.is_set():
            # The pool forwards a stop as SIGINT, so a SIGTERM sent to the whole process group
            # arrives twice at once: only a signal well after the first one is a second request.
            if time.monotonic() - self.stop_requested_at > SECOND_SIGNAL_AFTER_S:
                log.warning("worker_cold_stop", signal=signum)
                os._exit(1)
            return
        log.info("worker_stopping", signal=signum)
        self.stop_requested_at = time.monotonic()
        self.stopping.set()
        for worker in self.workers:
            if worker is not None:
                worker._stop_requested = True

    def run(self) -> None:
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)
        self._tick()  # due scheduled jobs onto the queue first (a burst run would miss them)
        for index in range(len(self.threads)):
            self._start(index)
        try:
            while not self.stopping.wait(TICK_S):
                self._tick()
                if self.burst and not any(thread and thread.is_alive() for thread in self.threads):
                    break
        finally:
            self.stopping.set()
            for worker in self.workers:
                if worker is not None:
                    worker._stop_requested = True
            for thread in self.threads:
                if thread is not None:
                    thread.join()
            self._release_scheduler()

    def _start(self, index: int) -> None:
        worker = ThreadWorker([QUEUE_NAME], connection=self.connection, leases=self.leases)
        thread = threading.Thread(target=worker.run, args=(self.burst,), name=f"job-{index}", daemon=True)
        self.workers[index], self.threads[index] = worker, thread
        thread.start()

    def _tick(self) -> None:
        try:
            self._schedule()
            clock = time.monotonic()
            if clock >= self.next_housekeeping:
                self.next_housekeeping = clock + MAINTENANCE_INTERVAL_S
                housekeeping(self.queues)
            if self.recovery.due():
                self.recovery.run()
        except redis.exceptions.RedisError as err:
            log.warning("worker_main_redis_error", error=type(err).__name__)
        if not self.burst:
            self._restart_ended_threads()

    def _restart_ended_threads(self) -> None:
        now = time.monotonic()
        for index, thread in enumerate(self.threads):
            if thread is not None and not thread.is_alive() and not self.stopping.is_set():
                if not self.restart_at[index]:
                    log.warning("worker_thread_ended", thread=thread.name)
                    self.restart_at[index] = now + RESTART_DELAY_S
                elif now >= self.restart_at[index]:
                    self.restart_at[index] = 0.0
                    self._start(index)

    def _schedule(self) -> None:
        """RQ's scheduler, one tick: hold (or take) its lock, move due jobs onto the queue."""
        if self.scheduler.acquired_locks:
            self.scheduler.heartbeat()  # renews the lock; drops it if another scheduler took it over
        elif self.scheduler.acquire_locks():
            self.scheduler.register_birth()
            log.info("scheduler_started", pid=os.getpid())
        if self.scheduler.acquired_locks:
            self.scheduler.enqueue_scheduled_jobs()

    def _release_scheduler(self) -> None:
        try:
            if self.scheduler.acquired_locks:
                self.scheduler.release_locks()
                self.scheduler.register_death()
        except redis.exceptions.RedisError:
            pass  # the lock expires by itself


def threaded_connection(settings: Settings, threads: int) -> redis.Redis:
    """One Redis connection pool for the process: a connection per job thread, one for the
    leases and one for the main thread (RQ's scheduler opens its own)."""
    from shared.redis_client import sync_client

    return sync_client(settings.redis_url or "", max_connections=threads + 2)


def run_threaded_process(settings: Settings, threads: int, burst: bool) -> None:
    """The body of one worker process."""
    from worker.context import WorkerContext, use_context

    connection = threaded_connection(settings, threads)
    context = WorkerContext.create(settings, client=connection, http_connections=threads)
    use_context(context)
    try:
        context.warm_up()
    except redis.exceptions.RedisError as err:
        log.warning("worker_warm_up_failed", error=type(err).__name__)
    ThreadedProcess(connection, threads, burst).run()
