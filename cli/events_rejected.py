"""``stripay-hooks events rejected`` and ``events replay-rejected``: the quarantine of bad signatures.

Replaying re-verifies each quarantined notification with the keys configured now.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable
from typing import Any

import click
import redis

from cli.job_views import int_or_none, mask
from cli.output import connect, iso, print_json, print_table, progress, reachable, redis_settings
from shared.acceptance import MALFORMED, NotificationRejected, accept_notification, parse_body
from shared.notification import MalformedNotification
from shared.notification_enqueuer import NotificationEnqueuer
from shared.quarantine import HEAD_BYTES, Quarantine, RejectedNotification
from shared.settings import Settings


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
        "order_id": int_or_none(payload.get("id")) if payload else None,
        "merchant_id": payload.get("merchantId") if payload else None,
        "status": payload.get("status") if payload else None,
        "payload": mask(payload) if payload is not None else None,
        "unreadable": problem,
    }


@click.command("rejected")
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


@click.command("replay-rejected")
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
        enqueuer = NotificationEnqueuer(client, settings)
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
                outcome = enqueuer.enqueue(payload, entry.received_at)
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
