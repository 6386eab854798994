"""``stripay-hooks events replay``: failed events back on the queue with a fresh retry budget.

A replay is RQ's own requeue of the failed job (:func:`shared.jobs.requeue_failed`).
"""

from __future__ import annotations

import click
import redis
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer

from cli.durations import DURATION
from cli.job_views import JobView, failed_views, view
from cli.output import connect, print_json, print_table, progress, reachable, redis_settings
from shared.jobs import failed_registry, requeue_failed


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


@click.command("replay")
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
            with progress(chosen, length=len(chosen), label="replaying") as bar:
                for v in bar:
                    try:
                        requeue_failed(client, v.job, settings)
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
