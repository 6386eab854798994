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
@click.option("--time-scale", type=float, default=1.0, show_default=True,
              help="Run the notification retry schedule this many times faster (1000 = 1000x).")
@click.option("--seed", type=int, default=0, show_default=True, help="Default seed of injected random errors.")
def simulator(host: str, port: int, key: str, time_scale: float, seed: int) -> None:
    """Run the Stripay simulator (POST /v1/*, control API under /_sim/)."""
    merchant_key = first_key(key)
    if not merchant_key:
        fail("a merchant key is required: set STRIPAY_MERCHANT_KEY or pass --key", code=2)
    if not time_scale > 0:
        fail(f"--time-scale must be > 0, got {time_scale}", code=2)
    configure_logging()
    from simulator.app import create_app

    config = SimulatorConfig(merchant_key=merchant_key, time_scale=time_scale, random_seed=seed)
    click.echo(f"Stripay simulator on http://{host}:{port} (time scale {time_scale:g})", err=True)
    web.run_app(create_app(config), host=host, port=port, print=None, access_log=None, shutdown_timeout=5.0)
