"""worker.watchdog: job timeouts raised in job threads by one watchdog thread per process."""

from __future__ import annotations

import threading
import time
import traceback

from rq.timeouts import BaseTimeoutException, JobTimeoutException

from worker.watchdog import Watchdog, WatchdogDeathPenalty, timeout_exception, watchdog


def _busy_for(seconds: float) -> None:
    """Work in Python (the exception is raised between bytecodes) for ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass


def _run(timeout_s: float, work_s: float) -> str | None:
    """A job of ``work_s`` under a ``timeout_s`` penalty in this thread: the timeout's text or None."""
    try:
        with WatchdogDeathPenalty(timeout_s, JobTimeoutException):
            _busy_for(work_s)
        _busy_for(0.1)  # nothing surfaces after the block either
    except JobTimeoutException as err:
        return "".join(traceback.format_exception_only(type(err), err)).strip()
    return None


def test_a_job_over_its_deadline_gets_the_exception_with_rqs_message() -> None:
    assert _run(0.2, 5.0) == "rq.timeouts.JobTimeoutException: Task exceeded maximum timeout value (0.2 seconds)"


def test_a_job_ended_in_time_gets_nothing_later() -> None:
    assert _run(0.3, 0.05) is None
    _busy_for(0.5)  # past the cancelled deadline
    assert watchdog().armed() == 0


def test_no_timeout_arms_nothing() -> None:
    with WatchdogDeathPenalty(0, JobTimeoutException):
        assert watchdog().armed() == 0


def test_concurrent_jobs_each_get_their_own_timeout_and_no_other() -> None:
    """Twelve threads: the slow ones (every other) are stopped, each with its own timeout's
    message; the quick ones finish untouched, whatever fires around them."""
    outcomes: dict[int, str | None] = {}

    def job(index: int) -> None:
        timeout_s = round(0.2 + 0.05 * index, 2)
        outcomes[index] = _run(timeout_s, 5.0 if index % 2 else 0.1)

    threads = [threading.Thread(target=job, args=(i,)) for i in range(12)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert time.monotonic() - started < 3  # every slow one stopped near its deadline, not after 5 s of work
    assert outcomes == {i: (f"rq.timeouts.JobTimeoutException: Task exceeded maximum timeout value "
                            f"({round(0.2 + 0.05 * i, 2)} seconds)" if i % 2 else None) for i in range(12)}
    assert watchdog().armed() == 0


def test_the_exception_is_rqs_own() -> None:
    raised = timeout_exception(JobTimeoutException, 30)
    assert issubclass(raised, JobTimeoutException) and issubclass(raised, BaseTimeoutException)
    assert raised is timeout_exception(JobTimeoutException, 30)  # made once per timeout
    assert str(raised()) == "Task exceeded maximum timeout value (30 seconds)"


def test_the_watchdog_outlives_a_thread_that_is_gone() -> None:
    dog = Watchdog()
    gone = threading.Thread(target=lambda: None)
    gone.start()
    gone.join()
    assert gone.ident is not None
    dead = dog.arm(0.0, gone.ident, JobTimeoutException)
    time.sleep(0.2)
    assert dog.disarm(dead)  # it fired (and found no such thread)
    caught: list[BaseException] = []

    def job() -> None:
        try:
            dog.arm(0.1, threading.get_ident(), JobTimeoutException)
            _busy_for(5.0)
        except JobTimeoutException as err:
            caught.append(err)

    thread = threading.Thread(target=job)
    thread.start()
    thread.join(timeout=5)
    assert len(caught) == 1


def test_an_earlier_deadline_wakes_the_watchdog() -> None:
    dog = Watchdog()
    late = dog.arm(60.0, threading.get_ident(), JobTimeoutException)
    caught: list[float] = []

    def job() -> None:
        started = time.monotonic()
        try:
            dog.arm(0.1, threading.get_ident(), JobTimeoutException)
            _busy_for(5.0)
        except JobTimeoutException:
            caught.append(time.monotonic() - started)

    thread = threading.Thread(target=job)
    thread.start()
    thread.join(timeout=5)
    assert not dog.disarm(late)
    assert len(caught) == 1 and caught[0] < 1.0
