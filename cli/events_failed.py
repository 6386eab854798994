"""``stripay-hooks events failed`` and ``events show``: what failed, and one event in full."""

from __future__ import annotations

import json
from typing import Any

import click
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer

from cli.durations import DURATION
from cli.job_views import JobView, failed_views, last_line, mask, short_error, view
from cli.output import connect, fail, iso, print_json, print_table, reachable, redis_settings
from shared.jobs import failed_registry
from shared.order_store import OrderStore


@click.command("failed")
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


@click.command("show")
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
