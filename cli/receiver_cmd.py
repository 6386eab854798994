"""``stripay-hooks receiver``: the notifyUrl target."""

from __future__ import annotations

import click
from aiohttp import web

from cli.main import fail, load_settings
from shared.logging import configure_logging


@click.command()
@click.option("--host", default=None, help="Bind address (default: $HOST or 0.0.0.0).")
@click.option("--port", type=int, default=None, help="Bind port (default: $PORT or 8080).")
@click.option("--metrics-port", type=int, default=None,
              help="Port of /metrics, never served on --port (default: $METRICS_PORT or 9107; 0: off).")
def receiver(host: str | None, port: int | None, metrics_port: int | None) -> None:
    """Run the receiver (POST /stripay/notify)."""
    settings = load_settings()
    if settings.redis_url is None:
        fail("REDIS_URL is required by the receiver (use `stripay-hooks dev` for an embedded Redis)", code=2)
    configure_logging()
    from receiver.app import create_app
    from receiver.metrics_server import metrics_site
    from shared.queue_metrics import queue_client_factory, register_queue_collector

    host = host or settings.host
    port = port or settings.port
    metrics_port = settings.metrics_port if metrics_port is None else metrics_port
    if metrics_port and metrics_port == port:
        fail(f"the metrics port must not be the public port ({port})", code=2)
    app = create_app(settings)
    if metrics_port:
        register_queue_collector(queue_client_factory(settings.redis_url))  # the queue gauges, read at scrape time
        app.cleanup_ctx.append(metrics_site(host, metrics_port))
    try:
        web.run_app(app, host=host, port=port, print=None, access_log=None, shutdown_timeout=10.0,
                    keepalive_timeout=settings.keepalive_timeout_s)
    except OSError as err:
        fail(f"cannot listen on {host} (ports {port}, {metrics_port}): {err.strerror or err}")
