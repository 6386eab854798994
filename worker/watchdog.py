"""Job timeouts in job threads: one watchdog thread per process, not a timer thread per job.

RQ's ``TimerDeathPenalty`` starts a ``threading.Timer`` (a new thread, with its
locks and conditions) for every job and cancels it after: with K job threads
per process that was a thread start and stop per job, a notable share of the
worker's CPU per job. :class:`WatchdogDeathPenalty` keeps its contract but only
registers the job's deadline with the process's :class:`Watchdog`, one daemon
thread that sleeps until the earliest deadline and then raises the exception in
the job's thread the way ``TimerDeathPenalty`` does
(``PyThreadState_SetAsyncExc``): the job's thread sees it at its next bytecode,
so a job blocked in a C call (a socket read) stops when that call returns.
"""

from __future__ import annotations

import ctypes
import functools
import math
import os
import threading
import time
from typing import Any

from rq.timeouts import BaseDeathPenalty, JobTimeoutException

from shared.logging import get_logger

log = get_logger("worker.watchdog")


class Deadline:
    """One armed timeout: raise ``exception`` in thread ``thread_id`` at ``at_s`` (monotonic)."""

    __slots__ = ("at_s", "thread_id", "exception", "fired")

    def __init__(self, at_s: float, thread_id: int, exception: type[BaseException]) -> None:
        self.at_s = at_s
        self.thread_id = thread_id
        self.exception = exception
        self.fired = False


def raise_in_thread(thread_id: int, exception: type[BaseException]) -> None:
    """``TimerDeathPenalty.handle_death_penalty``: ask the interpreter to raise ``exception`` in
    the thread; undo it and raise when that touched more than one thread state."""
    ret = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_long(thread_id), ctypes.py_object(exception))
    if ret == 0:
        raise ValueError(f"Invalid thread ID {thread_id}")
    elif ret > 1:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_long(thread_id), 0)
        raise SystemError("PyThreadState_SetAsyncExc failed")


class Watchdog:
    """The armed deadlines of one process and the thread that fires them (started on first use).

    Arming and disarming take one lock and touch a set; the thread is woken only
    when a new deadline is earlier than the one it sleeps until. A deadline is
    fired and removed under the same lock, so once :meth:`disarm` returns, the
    watchdog raises nothing more for it. Job threads take the lock with ``with``
    on the lock itself, never through the ``Condition``'s Python-level
    ``__enter__``: an exception fired at a thread can be raised between any two
    bytecodes, and one raised just after a Python-level acquire would leave the
    lock held and every job thread of the process stuck.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)  # the watchdog thread's sleep
        self._armed: set[Deadline] = set()
        self._wake_at_s = math.inf  # when the thread next looks at the deadlines
        self._thread: threading.Thread | None = None

    def arm(self, timeout_s: float, thread_id: int, exception: type[BaseException]) -> Deadline:
        deadline = Deadline(time.monotonic() + timeout_s, thread_id, exception)
        with self._lock:
            self._armed.add(deadline)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="job-watchdog", daemon=True)
                self._thread.start()
            elif deadline.at_s < self._wake_at_s:
                self._cond.notify()
        return deadline

    def disarm(self, deadline: Deadline) -> bool:
        """Forget ``deadline``; whether it had fired already."""
        with self._lock:
            self._armed.discard(deadline)
            return deadline.fired

    def armed(self) -> int:
        with self._lock:
            return len(self._armed)

    def _run(self) -> None:
        with self._cond:
            while True:
                now_s = time.monotonic()
                for deadline in [d for d in self._armed if d.at_s <= now_s]:
                    self._armed.discard(deadline)
                    deadline.fired = True
                    try:
                        raise_in_thread(deadline.thread_id, deadline.exception)
                    except Exception as err:  # noqa: BLE001 - (the thread is gone) the watchdog outlives it
                        log.warning("job_timeout_not_raised", thread_id=deadline.thread_id, error=str(err))
                self._wake_at_s = min((d.at_s for d in self._armed), default=math.inf)
                self._cond.wait(None if self._wake_at_s == math.inf else self._wake_at_s - now_s)


_watchdog: Watchdog | None = None
_watchdog_lock = threading.Lock()


def watchdog() -> Watchdog:
    """This process's watchdog (a forked child gets a new one: the parent's thread is not in it)."""
    global _watchdog
    if _watchdog is None:
        with _watchdog_lock:
            if _watchdog is None:
                _watchdog = Watchdog()
    return _watchdog


def _forget_after_fork() -> None:
    global _watchdog, _watchdog_lock
    _watchdog, _watchdog_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


@functools.cache
def timeout_exception(exception: type[BaseException], timeout_s: float) -> type[BaseException]:
    """``exception`` saying ``TimerDeathPenalty``'s message for ``timeout_s`` when raised without
    arguments (as an asynchronous exception is). A subclass of the same name per timeout, where
    RQ rewrites the ``__init__`` of the class itself for every job: threads with different
    timeouts (a reconcile's, a sweep's) would say each other's."""
    message = f"Task exceeded maximum timeout value ({timeout_s} seconds)"

    def __init__(self: BaseException, *args: Any) -> None:
        super(exception, self).__init__(message)  # as RQ's: past the class's own __init__

    return type(exception.__name__, (exception,), {
        "__init__": __init__, "__module__": exception.__module__, "__qualname__": exception.__qualname__,
        "__doc__": exception.__doc__})


class WatchdogDeathPenalty(BaseDeathPenalty):
    """RQ's ``TimerDeathPenalty`` (timeout in the thread that creates it, no signals) on the
    process's :class:`Watchdog`. A deadline that fired just as the job ended is taken back
    when cancelled, so its exception cannot surface after the ``with`` block, in RQ's
    bookkeeping (``BaseDeathPenalty.__exit__`` ignores one raised while cancelling)."""

    def __init__(self, timeout: float, exception: type[BaseException] = JobTimeoutException, **kwargs: Any) -> None:
        super().__init__(timeout, exception, **kwargs)
        self._target_thread_id = threading.get_ident()
        self._deadline: Deadline | None = None

    def setup_death_penalty(self) -> None:
        if self._timeout <= 0:
            return
        self._deadline = watchdog().arm(self._timeout, self._target_thread_id,
                                        timeout_exception(self._exception, self._timeout))

    def cancel_death_penalty(self) -> None:
        deadline, self._deadline = self._deadline, None
        if deadline is not None and watchdog().disarm(deadline):
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_long(self._target_thread_id), 0)
