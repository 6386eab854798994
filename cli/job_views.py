"""Failed events as an operator sees them: RQ's failed jobs of queue ``stripay``, read once.

Failed events are RQ's own failed jobs (the ``FailedJobRegistry``, JSON
serializer). RQ keeps one result per run that ended in failure (the first
failure and each replay that failed again; up to 10), not one per retry inside
a run: that is what ``attempts`` counts, and the error is the last line of the
latest result's traceback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import redis
from rq.job import Job
from rq.results import Result
from rq.serializers import JSONSerializer

from cli.durations import now_s
from cli.output import iso, progress
from shared.jobs import RECONCILE_JOB, failed_registry
from shared.logging import SECRET_FIELDS, mask_email, mask_ip
from shared.notification import MalformedNotification, order_id_of

FETCH_BATCH = 200
FAILURE_TYPES = (Result.Type.FAILED, Result.Type.MAX_RETRIES_EXCEEDED)
_QUALIFIED_ERROR = re.compile(r"^(?:[A-Za-z_][\w]*\.)+([A-Za-z_]\w*)(:.*)?$")


def last_line(traceback_text: str | None) -> str | None:
    """The exception line of a formatted traceback: its last non-blank line."""
    if not traceback_text:
        return None
    lines = [line.strip() for line in traceback_text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else None


def short_error(line: str | None) -> str | None:
    """``shared.stripay_client.ApiUnavailable: ...`` as ``ApiUnavailable: ...``."""
    if not line:
        return line
    match = _QUALIFIED_ERROR.match(line)
    return match.group(1) + (match.group(2) or "") if match else line


def mask(value: Any, unmasked: bool = False) -> Any:
    """A copy without any secret field (``sign``, keys); email and IP masked unless ``unmasked``."""
    if isinstance(value, Mapping):
        shown: dict[str, Any] = {}
        for name, item in value.items():
            if str(name).lower() in SECRET_FIELDS:
                continue
            if not unmasked and name == "email":
                shown[name] = mask_email(item)
            elif not unmasked and name == "ip":
                shown[name] = mask_ip(item)
            else:
                shown[name] = mask(item, unmasked)
        return shown
    if isinstance(value, list):
        return [mask(item, unmasked) for item in value]
    return value


@dataclass
class JobView:
    """What an operator needs of one job, read once from Redis."""

    job: Job
    func: str
    payload: dict[str, Any] | None
    order_id: int | None
    notified_status: str | None
    source: str | None
    received_at: float | None
    failures: list[Result]  # oldest first
    results: list[Result]  # every result RQ keeps, oldest first
    unreadable: str | None = None  # the job's data cannot be deserialized

    @property
    def error_line(self) -> str | None:
        if self.failures:
            return last_line(self.failures[-1].exc_string)
        return last_line(getattr(self.job, "_exc_info", None))

    @property
    def error(self) -> str | None:
        return short_error(self.error_line)

    @property
    def first_failed_at(self) -> datetime | None:
        return self.failures[0].created_at if self.failures else self.job.ended_at

    @property
    def last_failed_at(self) -> datetime | None:
        return self.failures[-1].created_at if self.failures else self.job.ended_at

    def summary(self) -> dict[str, Any]:
        return {
            "job_id": self.job.id,
            "func": self.func,
            "order_id": self.order_id,
            "status": self.notified_status,
            "source": self.source,
            "error": self.error,
            "error_line": self.error_line,
            "attempts": len(self.failures),
            "first_failed_at": iso(self.first_failed_at),
            "last_failed_at": iso(self.last_failed_at),
            "retries_left": self.job.retries_left,
        }


def int_or_none(value: Any) -> int | None:
    try:
        return order_id_of({"id": value})
    except MalformedNotification:
        return None


def view(job: Job) -> JobView:
    func = job.func_name.rsplit(".", 1)[-1] if job.func_name else "?"
    payload = order_id = status = source = received_at = None
    unreadable = None
    try:
        args = list(job.args)
        if job.func_name == RECONCILE_JOB and args and isinstance(args[0], dict):
            payload = args[0]
            order_id = int_or_none(payload.get("id"))
            status = payload.get("status")
            received_at = float(args[1]) if len(args) > 1 and isinstance(args[1], (int, float)) else None
            source = args[2] if len(args) > 2 else job.kwargs.get("source", "notify")
        elif func == "deliver_transition" and args:
            order_id = int_or_none(args[0])
            source = "deliver"
        elif func == "sweep_orders":
            source = "sweep"
    except Exception as err:  # noqa: BLE001 - a corrupt job is shown, not fatal
        unreadable = f"{type(err).__name__}: {err}"
    results = list(reversed(job.results()))
    failures = [result for result in results if result.type in FAILURE_TYPES]
    return JobView(job, func, payload, order_id, status, source, received_at, failures, results, unreadable)


def fetch_views(client: redis.Redis, job_ids: list[str], label: str) -> list[JobView]:
    """The jobs of ``job_ids`` that still exist, in batches, with a progress bar on a terminal."""
    views: list[JobView] = []
    batches = [job_ids[i:i + FETCH_BATCH] for i in range(0, len(job_ids), FETCH_BATCH)]
    with progress(batches, length=len(batches), label=label) as bar:
        for batch in bar:
            for job in Job.fetch_many(batch, connection=client, serializer=JSONSerializer):
                if job is not None:
                    views.append(view(job))
    return views


def failed_views(client: redis.Redis, since_s: int | None, error: str | None) -> list[JobView]:
    """Failed jobs of queue ``stripay``, oldest last failure first, filtered.

    Reads without RQ's registry cleanup, so listing never changes anything.
    """
    job_ids = failed_registry(client).get_job_ids(cleanup=False)
    views = fetch_views(client, job_ids, "reading failed jobs")
    if since_s is not None:
        cutoff = datetime.fromtimestamp(now_s() - since_s, tz=timezone.utc)
        views = [v for v in views if v.last_failed_at is not None and aware(v.last_failed_at) >= cutoff]
    if error:
        needle = error.lower()
        views = [v for v in views if needle in (v.error_line or "").lower()]
    never = datetime.min.replace(tzinfo=timezone.utc)
    views.sort(key=lambda v: aware(v.last_failed_at) if v.last_failed_at else never)
    return views


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
