"""``stripay-hooks events ...``: see what failed and put it right.

Failed events are RQ's own failed jobs of queue ``stripay`` (the
``FailedJobRegistry``, JSON serializer); a replay is RQ's own requeue after
the job's retry budget is reset. Rejected notifications are the quarantine of
bad signatures; replaying them re-verifies each with the keys configured now.

RQ keeps one result per run that ended in failure (the first failure and each
replay that failed again; up to 10), not one per retry inside a run: that is
what ``attempts`` counts, and the error is the last line of the latest
result's traceback.
"""

from __future__ import annotations

import json
import re
from collections import Counter as Tally
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import click
import redis
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.results import Result
from rq.serializers import JSONSerializer

from cli.durations import DURATION, now_s
from cli.output import connect, fail, iso, print_json, print_table, progress, reachable, redis_settings
from shared.acceptance import MALFORMED, NotificationRejected, accept_notification, parse_body
from shared.event_queue import EventQueue
from shared.keys import QUEUE_NAME, RECONCILE_JOB
from shared.logging import SECRET_FIELDS, mask_email, mask_ip
from shared.notification import MalformedNotification, order_id_of
from shared.order_store import OrderStore
from shared.quarantine import HEAD_BYTES, Quarantine, RejectedNotification
from shared.settings import Settings

FETCH_BATCH = 200
FAILURE_TYPES = (Result.Type.FAILED, Result.Type.MAX_RETRIES_EXCEEDED)
_QUALIFIED_ERROR = re.compile(r"^(?:[A-Za-z_][\w]*\.)+([A-Za-z_]\w*)(:.*)?$")


# --- reading jobs ----------------------------------------------------------------------------


def failed_registry(client: redis.Redis) -> FailedJobRegistry:
    return FailedJobRegistry(QUEUE_NAME, connection=client, serializer=JSONSerializer)


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


def _int_or_none(value: Any) -> int | None:
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
            order_id = _int_or_none(payload.get("id"))
            status = payload.get("status")
            received_at = float(args[1]) if len(args) > 1 and isinstance(args[1], (int, float)) else None
            source = args[2] if len(args) > 2 else job.kwargs.get("source", "notify")
        elif func == "deliver_transition" and args:
            order_id = _int_or_none(args[0])
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
        views = [v for v in views if v.last_failed_at is not None and _aware(v.last_failed_at) >= cutoff]
    if error:
        needle = error.lower()
        views = [v for v in views if needle in (v.error_line or "").lower()]
    never = datetime.min.replace(tzinfo=timezone.utc)
    views.sort(key=lambda v: _aware(v.last_failed_at) if v.last_failed_at else never)
    return views


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


# --- commands ------------------------------------------------------------------------------------


@click.group()
def events() -> None:
    """Failed and rejected events: list, inspect, replay."""


@events.command("failed")
@click.option("--since", "since_s", type=DURATION, help="Only events whose last failure is this recent (30m, 2h, 7d).")
@click.option("--error", "error", metavar="TEXT", help="Only events whose error contains TEXT (case-insensitive).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def failed(since_s: int | None, error: str | None, as_json: bool) -> None:
    """List failed events of queue stripay."""
    settings = redis_settings()
    client = connect(settings)
    with reachable():
        views = failed_views(client, since_s, error)
    if as_json:
        print_json([v.summary() for v in views])
        return
    if not views:
        click.echo("no failed events")
        return
    print_table(
        ["job id", "order", "status", "source", "attempts", "first failed", "last failed", "error"],
        [[v.job.id, v.order_id, v.notified_status, v.source, len(v.failures), iso(v.first_failed_at),
          iso(v.last_failed_at), v.error] for v in views],
    )
    click.echo(f"{len(views)} failed event{'s' if len(views) != 1 else ''}")


def _show_json(v: JobView, stored: Any, unmasked: bool, registry_member: bool) -> dict[str, Any]:
    job = v.job
    return {
        **v.summary(),
        "job_status": job.get_status(refresh=False).value if job.get_status(refresh=False) else None,
        "in_failed_registry": registry_member,
        "description": job.description,
        "created_at": iso(job.created_at),
        "enqueued_at": iso(job.enqueued_at),
        "received_at": iso(v.received_at) if v.received_at else None,
        "retry_budget": len(job.retry_intervals or []),
        "payload": mask(v.payload, unmasked) if v.payload is not None else None,
        "unreadable": v.unreadable,
        "attempts": [
            {
                "n": n,
                "at": iso(result.created_at),
                "outcome": result.type.name.lower(),
                "error": short_error(last_line(result.exc_string)),
                "traceback": result.exc_string,
                "worker": result.worker_name or None,
            }
            for n, result in enumerate(v.results, start=1)
        ],
        "order": mask(stored.as_json(), unmasked) if stored is not None else None,
    }


@events.command("show")
@click.argument("job_id")
@click.option("--unmasked", is_flag=True, help="Show email and IP in full (the sign is never shown).")
@click.option("--traceback", "tracebacks", is_flag=True, help="Print each attempt's full traceback.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def show(job_id: str, unmasked: bool, tracebacks: bool, as_json: bool) -> None:
    """One event in full: payload, every attempt with its error, the order's current state."""
    settings = redis_settings()
    client = connect(settings)
    with reachable():
        try:
            job = Job.fetch(job_id, connection=client, serializer=JSONSerializer)
        except NoSuchJobError:
            fail(f"job {job_id} is unknown (never existed, or expired)")
        v = view(job)
        stored = OrderStore(client).get(v.order_id) if v.order_id is not None else None
        member = client.zscore(failed_registry(client).key, job.id) is not None
        document = _show_json(v, stored, unmasked, member)
    if as_json:
        print_json(document)
        return
    click.echo(f"job {job.id}  {v.func}  {document['job_status']}"
               + ("  (in failed events)" if member else ""))
    for label, value in (("description", job.description), ("created", document["created_at"]),
                         ("enqueued", document["enqueued_at"]), ("received", document["received_at"]),
                         ("source", v.source),
                         ("retries left", f"{job.retries_left} of {document['retry_budget']}")):
        if value is not None:
            click.echo(f"  {label:<14}{value}")
    if v.unreadable:
        click.echo(f"  {'unreadable':<14}{v.unreadable}")
    if document["payload"] is not None:
        click.echo("payload:")
        for name, value in document["payload"].items():
            click.echo(f"  {name:<16}{value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}")
    click.echo("attempts:" if document["attempts"] else "attempts: none recorded")
    for attempt in document["attempts"]:
        click.echo(f"  {attempt['n']:>2}  {attempt['at']}  {attempt['outcome']:<20} {attempt['error'] or ''}".rstrip())
        if tracebacks and attempt["traceback"]:
            for line in attempt["traceback"].rstrip().splitlines():
                click.echo(f"        {line}")
    if v.order_id is not None:
        if stored is None:
            click.echo(f"order {v.order_id}: not stored yet")
        else:
            click.echo(f"order {v.order_id} now: {stored.status} (updatedAt {stored.updated_at}, "
                       f"applied {stored.applied_at} from {stored.source})")


def _reset_budget(job: Job, settings: Settings) -> None:
    job.retries_left = len(settings.retry_s)
    job.retry_intervals = [int(s) for s in settings.retry_s] if settings.retry_s else None
    if job.func_name == RECONCILE_JOB:
        args = list(job.args)
        if len(args) > 2 and args[2] == "notify":
            args[2] = "replay"  # recorded in the history as a notification, logged as a replay
            job.args = tuple(args)


def _select(client: redis.Redis, job_ids: tuple[str, ...], select_all: bool, since_s: int | None,
            error: str | None) -> tuple[list[JobView], list[dict[str, str]]]:
    if not job_ids:
        return failed_views(client, since_s if not select_all else None, error if not select_all else None), []
    registry_key = failed_registry(client).key
    chosen: list[JobView] = []
    skipped: list[dict[str, str]] = []
    for job_id in dict.fromkeys(job_ids):
        try:
            job = Job.fetch(job_id, connection=client, serializer=JSONSerializer)
        except NoSuchJobError:
            skipped.append({"job_id": job_id, "reason": "unknown job"})
            continue
        if client.zscore(registry_key, job_id) is None:
            status = job.get_status(refresh=False)
            skipped.append({"job_id": job_id, "reason": f"not failed (status {status.value if status else '?'})"})
            continue
        chosen.append(view(job))
    return chosen, skipped


@events.command("replay")
@click.argument("job_ids", nargs=-1, metavar="[JOB_ID]...")
@click.option("--all", "select_all", is_flag=True, help="Replay every failed event.")
@click.option("--since", "since_s", type=DURATION, help="Replay failed events whose last failure is this recent.")
@click.option("--error", "error", metavar="TEXT", help="Replay failed events whose error contains TEXT.")
@click.option("--dry-run", is_flag=True, help="Say what would be replayed; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def replay(job_ids: tuple[str, ...], select_all: bool, since_s: int | None, error: str | None, dry_run: bool,
           as_json: bool) -> None:
    """Put failed events back on the queue with a fresh retry budget.

    Select by JOB_ID, or with --all, --since and/or --error. Replaying an event
    whose change is already applied changes nothing: the order store applies
    each status change once.
    """
    filters = select_all or since_s is not None or error is not None
    if job_ids and filters:
        raise click.UsageError("give JOB_IDs or --all/--since/--error, not both")
    if not job_ids and not filters:
        raise click.UsageError("give JOB_IDs, --all, --since or --error")
    if select_all and (since_s is not None or error is not None):
        raise click.UsageError("--all selects every failed event; drop it to filter with --since/--error")
    settings = redis_settings()
    client = connect(settings)
    replayed: list[JobView] = []
    with reachable():
        chosen, skipped = _select(client, job_ids, select_all, since_s, error)
        if not dry_run:
            registry = failed_registry(client)
            with progress(chosen, length=len(chosen), label="replaying") as bar:
                for v in bar:
                    _reset_budget(v.job, settings)
                    try:
                        registry.requeue(v.job)
                    except InvalidJobOperation:  # replayed (or expired) meanwhile
                        skipped.append({"job_id": v.job.id, "reason": "no longer failed"})
                        continue
                    replayed.append(v)
        else:
            replayed = chosen
    verb = "would replay" if dry_run else "replayed"
    if as_json:
        print_json({"dry_run": dry_run, "replayed": [v.job.id for v in replayed], "skipped": skipped})
    else:
        if replayed:
            print_table(["job id", "order", "status", "error"],
                        [[v.job.id, v.order_id, v.notified_status, v.error] for v in replayed])
        for item in skipped:
            click.echo(f"skipped {item['job_id']}: {item['reason']}", err=True)
        click.echo(f"{verb} {len(replayed)} event{'s' if len(replayed) != 1 else ''}")
    if job_ids and skipped:
        raise SystemExit(1)


# --- rejected notifications --------------------------------------------------------------------


def _quarantine(client: redis.Redis, settings: Settings) -> Quarantine:
    return Quarantine(client, settings.quarantine_ttl_s)


def _payload_of(entry: RejectedNotification) -> tuple[dict[str, Any] | None, str | None]:
    if not entry.complete:
        return None, f"kept in part: the first {len(entry.body)} of {entry.length} bytes"
    try:
        return parse_body(entry.body, entry.content_type), None
    except MalformedNotification as err:
        return None, str(err)


def _rejected_json(entry: RejectedNotification) -> dict[str, Any]:
    payload, problem = _payload_of(entry)
    return {
        "entry_id": entry.entry_id,
        "received_at": iso(entry.received_at),
        "reason": entry.reason,
        "content_type": entry.content_type,
        "length": entry.length,
        "sha256": entry.sha256,
        "complete": entry.complete,
        "order_id": _int_or_none(payload.get("id")) if payload else None,
        "merchant_id": payload.get("merchantId") if payload else None,
        "status": payload.get("status") if payload else None,
        "payload": mask(payload) if payload is not None else None,
        "unreadable": problem,
    }


@events.command("rejected")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def rejected(as_json: bool) -> None:
    """List quarantined notifications whose signature failed."""
    settings = redis_settings()
    client = connect(settings)
    with reachable():
        quarantine = _quarantine(client, settings)
        total = quarantine.count()
        with progress(quarantine.entries(), length=total, label="reading quarantine") as bar:
            rows = [_rejected_json(entry) for entry in bar]
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("no rejected notifications")
        return
    print_table(["entry", "received", "order", "merchant", "status", "reason"],
                [[r["entry_id"], r["received_at"], r["order_id"], r["merchant_id"], r["status"],
                  r["reason"] + (f" ({r['unreadable']})" if r["unreadable"] else "")] for r in rows])
    click.echo(f"{len(rows)} rejected notification{'s' if len(rows) != 1 else ''}")


def _recheck(entry: RejectedNotification, settings: Settings) -> tuple[dict[str, Any] | None, str | None]:
    """The payload if the receiver would accept it now, else why not."""
    if not entry.complete:
        return None, f"kept in part (over {HEAD_BYTES} bytes): not re-verified"
    try:
        return accept_notification(entry.body, entry.content_type, settings.keys_for).payload, None
    except NotificationRejected as err:
        return None, f"malformed: {err.reason}" if err.kind == MALFORMED else err.reason


@events.command("replay-rejected")
@click.option("--dry-run", is_flag=True, help="Say what would pass now; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def replay_rejected(dry_run: bool, as_json: bool) -> None:
    """Re-verify quarantined notifications with the keys configured now; enqueue those that pass.

    Only entries kept whole (bodies up to 2048 bytes) can be re-verified; a
    longer body is kept in part (its head, length and sha256) and counted as
    such among those that still fail.

    A notification that passes is enqueued exactly as the receiver does
    (remembered and queued in one step; a duplicate of a remembered one is not
    queued again) and removed from the quarantine. The rest stay, counted by reason.
    """
    settings = redis_settings()
    client = connect(settings)
    enqueued: list[str] = []
    duplicates = passing = 0
    reasons: Tally[str] = Tally()
    with reachable():
        quarantine = _quarantine(client, settings)
        event_queue = EventQueue(client, settings)
        entries: Iterable[RejectedNotification] = quarantine.entries()
        with progress(entries, length=quarantine.count(), label="re-verifying") as bar:
            for entry in bar:
                payload, reason = _recheck(entry, settings)
                if payload is None:
                    reasons[reason or "unknown"] += 1
                    continue
                passing += 1
                if dry_run:
                    continue
                outcome = event_queue.enqueue(payload, entry.received_at)
                quarantine.remove(entry.entry_id)
                if outcome.accepted:
                    enqueued.append(outcome.job_id)
                else:
                    duplicates += 1
    still = sum(reasons.values())
    if as_json:
        print_json({"dry_run": dry_run, "passing": passing, "enqueued": len(enqueued), "duplicates": duplicates,
                    "job_ids": enqueued, "still_failing": still, "reasons": dict(reasons.most_common())})
        return
    if dry_run:
        click.echo(f"would replay {passing} rejected notification{'s' if passing != 1 else ''}")
    else:
        click.echo(f"replayed {passing} rejected notification{'s' if passing != 1 else ''}: "
                   f"{len(enqueued)} enqueued, {duplicates} already enqueued before")
    click.echo(f"{still} still fail{'s' if still == 1 else ''}" + (":" if still else ""))
    for reason, count in reasons.most_common():
        click.echo(f"  {count:>5}  {reason}")
