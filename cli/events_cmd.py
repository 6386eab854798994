"""``stripay-hooks events ...``: see what failed and put it right.

Failed events are RQ's own failed jobs of queue ``stripay``
(:mod:`cli.job_views`; listed and shown by :mod:`cli.events_failed`); a replay
is RQ's own requeue after the job's retry budget is reset
(:mod:`cli.events_replay`). Rejected notifications are the quarantine of bad
signatures; replaying them re-verifies each with the keys configured now
(:mod:`cli.events_rejected`).
"""

from __future__ import annotations

import click

from cli.events_failed import failed, show
from cli.events_rejected import rejected, replay_rejected
from cli.events_replay import replay


@click.group()
def events() -> None:
    """Failed and rejected events: list, inspect, replay."""


for command in (failed, show, replay, rejected, replay_rejected):
    events.add_command(command)
