"""``stripay-hooks receiver``: the notifyUrl target."""

from __future__ import annotations

import click
from aiohttp import web

from cli.main import fail, load_settings
from shared.logging import configure_logging


@click.command()
@click.option("--host", default=None, help="Bind address (default: $HOST or 0.0.0.0).")
@click.option("--port", type=int, default=None, help="Bind port (default: $PORT or 8080).")
def receiver(host: str | None, port: int | None) -> None:
    """Run the receiver (POST /stripay/notify)."""
    settings = load_settings()
    if settings.redis_url is None:
        fail("REDIS_URL is required by the receiver (use `stripay-hooks dev` for an embedded Redis)", code=2)
    configure_logging()
    from receiver.app import create_app

    web.run_app(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        print=None,
        access_log=None,
        shutdown_timeout=10.0,
    )
