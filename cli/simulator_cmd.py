"""``stripay-hooks simulator``: a local Stripay (API, signed notifications, control API)."""

from __future__ import annotations

import click
from aiohttp import web

from cli.main import fail
from shared.logging import configure_logging
from simulator.config import DEFAULT_PORT, SimulatorConfig, first_key


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address.")
@click.option("--port", type=int, default=DEFAULT_PORT, show_default=True, help="Bind port.")
@click.option("--key", envvar="STRIPAY_MERCHANT_KEY", default="", show_envvar=True,
              help="Merchant key it accepts and signs with (first of a comma-separated list).")
@click.option("--merchant", "merchants", multiple=True, metavar="ID=KEY",
              help="A further merchant (its id and key); repeat for several. The first merchant has id 1.")
@click.option("--time-scale", type=float, default=1.0, show_default=True,
              help="Run the notification retry schedule this many times faster (1000 = 1000x).")
@click.option("--seed", type=int, default=0, show_default=True, help="Default seed of injected random errors.")
def simulator(host: str, port: int, key: str, merchants: tuple[str, ...], time_scale: float, seed: int) -> None:
    """Run the Stripay simulator (POST /v1/*, control API under /_sim/)."""
    merchant_key = first_key(key)
    if not merchant_key:
        fail("a merchant key is required: set STRIPAY_MERCHANT_KEY or pass --key", code=2)
    if not time_scale > 0:
        fail(f"--time-scale must be > 0, got {time_scale}", code=2)
    others = tuple(_merchant(raw) for raw in merchants)
    configure_logging()
    from simulator.app import create_app

    try:
        config = SimulatorConfig(merchant_key=merchant_key, other_merchants=others, time_scale=time_scale,
                                 random_seed=seed)
    except ValueError as err:
        fail(str(err), code=2)
    click.echo(f"Stripay simulator on http://{host}:{port} (time scale {time_scale:g})", err=True)
    web.run_app(create_app(config), host=host, port=port, print=None, access_log=None, shutdown_timeout=5.0)


def _merchant(raw: str) -> tuple[int, str]:
    merchant_id, _, key = raw.partition("=")
    if not merchant_id.strip().isdigit() or not key.strip():
        fail(f"--merchant must look like ID=KEY with an integer id, got {raw.split('=')[0]!r}=...", code=2)
    return int(merchant_id), key.strip()
