"""``stripay-hooks stats``: the queue at a glance, the same numbers Prometheus scrapes."""

from __future__ import annotations

from typing import Any

import click
import redis

from cli.durations import format_age
from cli.output import connect, print_json, print_table, reachable, redis_settings
from shared.queue_metrics import read_queue_state

ROWS = (
    ("queued", "queued jobs"),
    ("scheduled", "scheduled (retries, rechecks, sweeps)"),
    ("started", "running now"),
    ("failed", "failed events"),
    ("workers", "workers alive"),
    ("oldest_age", "oldest queued job"),
    ("rejected", "rejected notifications"),
)


def read_stats(client: redis.Redis) -> dict[str, Any]:
    """Read-only, two pipelined round trips: what the Prometheus queue collector exports."""
    values = read_queue_state(client)
    return {
        "queued": int(values["queued"]),
        "scheduled": int(values["scheduled"]),
        "started": int(values["started"]),
        "failed": int(values["failed"]),
        "workers": int(values["workers"]),
        "oldest_age_s": round(float(values["oldest_age"]), 3),
        "rejected": int(values["rejected"]),
    }


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def stats(as_json: bool) -> None:
    """Queue depth, scheduled, running and failed jobs, workers alive, oldest queued age, rejected count."""
    settings = redis_settings()
    client = connect(settings)
    with reachable():
        values = read_stats(client)
    if as_json:
        print_json(values)
        return
    shown = dict(values, oldest_age=format_age(values["oldest_age_s"]) if values["queued"] else "-")
    print_table(["metric", "value"], [[label, shown[name]] for name, label in ROWS])
