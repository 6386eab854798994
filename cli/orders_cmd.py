"""``stripay-hooks orders ...``: the stored state of orders; reconcile one now; sweep for missed changes."""

from __future__ import annotations

import json

import click

from cli.durations import DURATION
from cli.output import Counter, connect, fail, iso, print_json, print_table, reachable, redis_settings
from shared.jobs import enqueue_reconcile
from shared.order_store import OrderStore
from shared.settings import Settings
from shared.stripay_client import StripayClient
from worker.sweep import sweep as run_sweep


@click.group()
def orders() -> None:
    """Inspect and reconcile orders."""


@orders.command("show")
@click.argument("order_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def show(order_id: int, as_json: bool) -> None:
    """Print the stored state and history of ORDER_ID."""
    client = connect(redis_settings())
    with reachable():
        stored = OrderStore(client).get(order_id)
    if stored is None:
        fail(f"order {order_id} is unknown")
    if as_json:
        click.echo(json.dumps(stored.as_json(), indent=2, ensure_ascii=False))
        return
    click.echo(f"order {stored.order_id}: {stored.status} (updatedAt {stored.updated_at}, "
               f"applied {stored.applied_at} from {stored.source})")
    order = stored.state
    click.echo(f"  merchant {order.get('merchantId')}  merchantOrderId {order.get('merchantOrderId')}  amount {order.get('amount')} "
               f"{order.get('currency')}")
    click.echo("  history:")
    for entry in stored.history:
        click.echo(f"    {entry.get('at')}  {entry.get('from') or '-':>10} -> {entry.get('to'):<10} "
                   f"({entry.get('source')})")


def reconcile_payload(settings: Settings, store: OrderStore, order_id: int, merchant: str | None) -> dict[str, object]:
    """What the reconcile job is told: the order id and whose order it is (so the worker asks
    with that merchant's key): ``--merchant``, else the stored order's merchant. An order not
    stored yet needs ``--merchant`` when several merchants are configured."""
    if merchant is not None:
        return {"id": order_id, "merchantId": merchant}
    stored = store.get(order_id)
    if stored is not None and stored.state.get("merchantId") is not None:
        return {"id": order_id, "merchantId": stored.state["merchantId"]}
    configured = settings.api_merchants()
    if len(configured) > 1:
        names = ", ".join(str(merchant_id) for merchant_id, _ in configured if merchant_id is not None)
        fail(f"order {order_id} is not stored yet, so its merchant is unknown: pass --merchant ID ({names})", code=2)
    return {"id": order_id}


@orders.command("reconcile")
@click.argument("order_ids", nargs=-1, required=True, type=click.IntRange(min=0), metavar="ORDER_ID...")
@click.option("--merchant", "merchant", default=None,
              help="The merchant the orders belong to (needed for an order not stored yet when several "
                   "merchants are configured).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {order_id, job_id}.")
def reconcile(order_ids: tuple[int, ...], merchant: str | None, as_json: bool) -> None:
    """Reconcile ORDER_ID now: queue the reconcile job, which reads the order from Stripay."""
    settings = redis_settings()
    client = connect(settings)
    store = OrderStore(client)
    queued: list[dict[str, object]] = []
    with reachable():
        payloads = [reconcile_payload(settings, store, order_id, merchant) for order_id in dict.fromkeys(order_ids)]
        for payload in payloads:
            job_id = enqueue_reconcile(client, settings, payload, "poll")
            queued.append({"order_id": payload["id"], "job_id": job_id})
    if as_json:
        print_json(queued)
        return
    print_table(["order", "job id"], [[item["order_id"], item["job_id"]] for item in queued])
    click.echo(f"enqueued {_plural(len(queued), 'reconcile')}")


@orders.command("sweep")
@click.option("--since", "since_s", type=DURATION, required=True,
              help="Check orders Stripay updated within this window (30m, 2h, 7d).")
@click.option("--dry-run", is_flag=True, help="Say which orders are behind; enqueue nothing.")
@click.option("--merchant", "merchant", default=None, help="Sweep only this merchant (default: every configured one).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def sweep(since_s: int, dry_run: bool, merchant: str | None, as_json: bool) -> None:
    """Page through Stripay's orders and reconcile every one the store is behind on.

    Catches status changes whose notifications never arrived (Stripay stops
    after its fifth attempt). Every configured merchant is swept with its own
    key (or only --merchant). Every page is read; only orders updated within
    --since are compared with the store.
    """
    settings = redis_settings()
    client = connect(settings)
    stripay = StripayClient(settings.api_url, settings.api_timeout_s)
    bar = Counter("sweeping orders")
    try:
        with reachable():
            result = run_sweep(client, stripay, settings, since_s, dry_run=dry_run, on_page=bar.update,
                               merchant_id=merchant)
    finally:
        bar.close()
        stripay.close()
    if as_json:
        print_json(result.as_json())
        return
    if result.behind:
        print_table(
            ["order", "merchant", "stripay status", "stripay updatedAt", "stored status", "job id"],
            [[c.order_id, c.merchant_id or "-", c.api_status, c.api_updated_at, c.stored_status or "missing",
              c.job_id or ("-" if dry_run else "already queued")] for c in result.behind],
        )
    click.echo(f"checked {_plural(result.checked, 'order')} ({result.in_window} updated since "
               f"{iso(result.since_ms / 1000)}), {len(result.behind)} behind; "
               + (f"would enqueue {len(result.behind)}" if dry_run else
                  f"enqueued {_plural(result.enqueued, 'reconcile')} ({result.already_queued} already queued)"))


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
