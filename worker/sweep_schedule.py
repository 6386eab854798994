"""Run the sweep every ``STRIPAY_SWEEP_EVERY_S`` seconds, once per period across all worker hosts.

Time is cut into periods of ``every_s`` seconds (period ``p`` starts at
``p * every_s`` since the epoch). The sweep of period ``p`` is an RQ job with
the id ``sweep-<every_s>-<p>``, scheduled with RQ's scheduler at the start of
its period and written with RQ's atomic unique scheduling
(``Queue.schedule_job(..., unique=True)``): however many workers call
:func:`schedule_sweeps` at start, each period has one job. When the job runs it
first schedules the next period the same way, so the chain keeps going while
any worker (with RQ's scheduler) is up, and a worker that starts after an
outage picks the chain up again without a backlog of missed periods.

RQ's own alternatives were weighed: ``rq.cron.CronScheduler`` is a separate
process whose instances do not coordinate (two hosts would both enqueue each
run), and ``Repeat`` re-runs one job a fixed number of times and stops for good
after a failure.

The scheduled job reads the settings of the worker running it: with
``STRIPAY_SWEEP_EVERY_S=0`` it neither sweeps nor schedules another, and with a
new period length it continues on the new period's ids.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import redis

from shared.jobs import schedule, sweep_job
from shared.settings import Settings

# Every scheduled sweep looks back at least this far, so a day or two of failing
# sweeps (Stripay down) still leaves no order unchecked once they work again.
MIN_LOOKBACK_S = 2 * 86400


def lookback_s(every_s: int) -> int:
    return max(2 * every_s, MIN_LOOKBACK_S)


def _schedule(connection: redis.Redis, settings: Settings, every_s: int, period: int) -> str | None:
    job = sweep_job(settings, every_s, period, lookback_s(every_s))
    at = datetime.fromtimestamp(period * every_s, tz=timezone.utc)
    if not schedule(connection, job, at):
        return None  # another worker (or an earlier start) scheduled this period
    return job.id


def schedule_sweeps(connection: redis.Redis, settings: Settings, now_s: float | None = None) -> str | None:
    """Schedule the sweep of the next period unless it is scheduled already; call once at worker start.

    Returns the id of the job scheduled now, or None (sweeps off, or already scheduled).
    """
    every_s = settings.sweep_every_s
    if every_s <= 0:
        return None
    now = time.time() if now_s is None else now_s
    return _schedule(connection, settings, every_s, int(now // every_s) + 1)


def schedule_after(
    connection: redis.Redis, settings: Settings, every_s: int, period: int, now_s: float | None = None
) -> str | None:
    """From inside the sweep of ``period``: schedule the next one (on the current setting's periods).

    A job that runs late, or on a host whose clock is behind, still moves the
    chain forward: the next period is after both ``period`` and now.
    """
    current = settings.sweep_every_s
    if current <= 0:
        return None
    now = time.time() if now_s is None else now_s
    latest = int(now // current)
    if current == every_s:
        latest = max(latest, period)
    return _schedule(connection, settings, current, latest + 1)
