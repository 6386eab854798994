"""Jobs of crashed workers back on the queue within seconds, with no further traffic.

RQ 2.12 alone hands such jobs back late and at a price: a ``SimpleWorker``'s
started-registry entry lasts ``job.timeout + 60`` s, an idle worker blocks on
``BLMOVE`` for minutes before its maintenance runs, a job stuck on the
intermediate list waits for two maintenance runs a minute apart, and both
paths go through ``handle_job_failure``, spending one of the retries meant for
Stripay's API errors. Here instead:

* :class:`JobLeases`: while a job runs, its process renews the job's
  started-registry entry to ``LEASE_S`` ahead every ``BEAT_S`` (a thread, so a
  job waiting on the API keeps its lease). A job outlives its lease only when
  its process died or lost Redis.
* :class:`Recovery`: every worker tries a pass every ``PASS_EVERY_S``; one
  script (``recover_jobs.lua``) takes a short lock so at most one pass
  runs per interval across all workers, and puts the jobs of expired leases
  and of stuck intermediate entries back at the head of the queue with their
  retries untouched. Running a job again is harmless: the order store applies
  each state once, and rechecks and deliveries have ids of their own.
* A worker passes judgement only once it has reached Redis continuously for
  ``LEASE_S + BEAT_S``: after an outage, live workers first get the chance to
  renew the leases they hold, so a running job is never started a second time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

import redis

from shared import metrics
from shared.jobs import (
    RQ_EXECUTION_PREFIX,
    RQ_EXECUTIONS_PREFIX,
    RQ_INTERMEDIATE_KEY,
    RQ_JOB_PREFIX,
    RQ_QUEUE_KEY,
    RQ_QUEUES_SET,
    RQ_SCHEDULER_LOCK_KEY,
    RQ_STARTED_KEY,
)
from shared.keys import RECOVERY_INTERMEDIATE_KEY, RECOVERY_LOCK_KEY
from shared.logging import get_logger

log = get_logger("worker.recovery")

LEASE_S = 8  # a running job's started-registry entry ends this far ahead...
BEAT_S = 2  # ...and is renewed this often by the process running it
STUCK_S = 5  # a job only on RQ's intermediate list this long has lost its worker
PASS_EVERY_S = 2  # at most one recovery pass per interval across all workers
SCHEDULER_LOCK_TTL_S = 61  # RQ's scheduler renews its lock to this TTL every second
SCHEDULER_STALE_S = 5  # a scheduler lock not renewed for this long belongs to a dead scheduler

RECOVER_SCRIPT = resources.files("worker").joinpath("recover_jobs.lua").read_text(encoding="utf-8")


@dataclass(frozen=True)
class PassResult:
    from_started: int  # jobs handed back whose lease ran out
    from_intermediate: int  # jobs handed back from RQ's intermediate list
    scheduler_lock_free: bool


class Recovery:
    """The recovery pass of one worker process (not thread-safe: its main loop calls it)."""

    def __init__(self, client: redis.Redis, settle_s: float = LEASE_S + BEAT_S,
                 clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._script = client.register_script(RECOVER_SCRIPT)
        self._settle_s = settle_s  # Redis reached continuously this long before judging leases
        self._clock = clock  # the wall clock RQ scores its registries with
        self._next_pass = 0.0
        self._reachable_since: float | None = None

    def due(self) -> bool:
        return time.monotonic() >= self._next_pass

    def run(self) -> PassResult | None:
        """One pass; None when skipped (another worker's pass is recent, Redis not reached
        long enough, or unreachable)."""
        clock = time.monotonic()
        self._next_pass = clock + PASS_EVERY_S
        try:
            if self._reachable_since is None:
                self._client.ping()
                self._reachable_since = clock
            if clock - self._reachable_since < self._settle_s:
                return None
            reply = self._script(
                keys=[RECOVERY_LOCK_KEY, RQ_QUEUE_KEY, RQ_INTERMEDIATE_KEY, RQ_STARTED_KEY, RQ_QUEUES_SET,
                      RECOVERY_INTERMEDIATE_KEY, RQ_SCHEDULER_LOCK_KEY],
                args=[f"{self._clock():.6f}", PASS_EVERY_S * 1000, STUCK_S, RQ_JOB_PREFIX, RQ_EXECUTION_PREFIX,
                      RQ_EXECUTIONS_PREFIX, SCHEDULER_LOCK_TTL_S * 1000, SCHEDULER_STALE_S * 1000],
            )
        except redis.exceptions.RedisError as err:
            self._reachable_since = None
            log.warning("recovery_pass_failed", error=type(err).__name__)
            return None
        if int(reply[0]) < 0:
            return None
        result = PassResult(int(reply[0]), int(reply[1]), bool(int(reply[2])))
        if result.from_started or result.from_intermediate:
            metrics.recovered_jobs_total.labels(reason="lease_expired").inc(result.from_started)
            metrics.recovered_jobs_total.labels(reason="stuck_dequeued").inc(result.from_intermediate)
            log.warning("jobs_handed_back", from_started=result.from_started,
                        from_intermediate=result.from_intermediate)
        return result


class JobLeases:
    """Renews the started-registry entries of the jobs this process runs (one thread per process)."""

    def __init__(self, client: redis.Redis, renew_in_thread: bool = True) -> None:
        self._client = client
        self._renew_in_thread = renew_in_thread  # False: the caller calls renew() (tests)
        self._held: dict[str, str] = {}  # execution composite key -> worker key
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def hold(self, composite_key: str, worker_key: str) -> None:
        with self._lock:
            self._held[composite_key] = worker_key
            if self._renew_in_thread and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(target=self._run, name="job-leases", daemon=True)
                self._thread.start()

    def release(self, composite_key: str) -> None:
        with self._lock:
            self._held.pop(composite_key, None)

    def renew(self) -> int:
        """Renew every lease held now; returns how many entries were still registered."""
        with self._lock:
            held = dict(self._held)
        if not held:
            return 0
        until = time.time() + LEASE_S
        with self._client.pipeline(transaction=False) as pipe:
            for composite_key, worker_key in held.items():
                # XX: a job that ended meanwhile (entry removed) is not registered again.
                pipe.zadd(RQ_STARTED_KEY, {composite_key: until}, xx=True, ch=True)
                pipe.expire(RQ_EXECUTION_PREFIX + composite_key, LEASE_S + 60)
                pipe.expire(worker_key, LEASE_S + 60)
            pipe.execute()
        return len(held)

    def _run(self) -> None:
        while True:
            time.sleep(BEAT_S)
            try:
                self.renew()
            except redis.exceptions.RedisError as err:
                log.warning("job_lease_renewal_failed", error=type(err).__name__)
