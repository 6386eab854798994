"""``stripay-hooks orders ...``: the stored state of orders."""

from __future__ import annotations

import json

import click
import redis

from cli.main import fail, load_settings
from shared.order_store import OrderStore
from shared.redis_client import sync_client


def _redis() -> redis.Redis:
    settings = load_settings()
    if settings.redis_url is None:
        fail("REDIS_URL is required", code=2)
    return sync_client(settings.redis_url)


@click.group()
def orders() -> None:
    """Inspect and reconcile orders."""


@orders.command("show")
@click.argument("order_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def show(order_id: int, as_json: bool) -> None:
    """Print the stored state and history of ORDER_ID."""
    client = _redis()
    try:
        stored = OrderStore(client).get(order_id)
    except redis.exceptions.RedisError as err:
        fail(f"Redis unreachable: {type(err).__name__}")
    if stored is None:
        fail(f"order {order_id} is unknown")
    if as_json:
        click.echo(json.dumps(stored.as_json(), indent=2, ensure_ascii=False))
        return
    click.echo(f"order {stored.order_id}: {stored.status} (updatedAt {stored.updated_at}, "
               f"applied {stored.applied_at} from {stored.source})")
    order = stored.state
    click.echo(f"  merchantOrderId {order.get('merchantOrderId')}  amount {order.get('amount')} "
               f"{order.get('currency')}")
    click.echo("  history:")
    for entry in stored.history:
        click.echo(f"    {entry.get('at')}  {entry.get('from') or '-':>10} -> {entry.get('to'):<10} "
                   f"({entry.get('source')})")
