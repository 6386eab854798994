"""``stripay-hooks dev``: the whole service on one machine, for development."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import click

from cli.main import fail
from shared.embedded_redis import EmbeddedRedis, EmbeddedRedisError

DEV_MERCHANT_KEY = "dev-merchant-key-not-secret"
DEV_BILLRUN_SECRET = "dev-billrun-secret-not-secret"
SIMULATOR_PORT = 12111


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "cli", *args], env=env)


@click.command()
@click.option("--simulator", "with_simulator", is_flag=True, help="Also run the Stripay simulator and use it as the API.")
@click.option("--port", type=int, default=None, help="Receiver port (default: $PORT or 8080).")
@click.option("--simulator-port", type=int, default=SIMULATOR_PORT, show_default=True, help="Simulator port.")
@click.option("--metrics-port", type=int, default=None,
              help="Receiver /metrics port (default: $METRICS_PORT or 9107; 0: off).")
@click.option("--processes", type=int, default=1, show_default=True, help="Worker processes.")
def dev(with_simulator: bool, port: int | None, simulator_port: int, metrics_port: int | None, processes: int) -> None:
    """Run receiver + worker (+ an embedded Redis when REDIS_URL is unset)."""
    signal.signal(signal.SIGTERM, _raise_stop)
    env = dict(os.environ)
    children: list[subprocess.Popen[bytes]] = []
    embedded: EmbeddedRedis | None = None
    if not env.get("STRIPAY_MERCHANT_KEY") and not env.get("STRIPAY_MERCHANTS_FILE"):
        if not with_simulator:
            fail("STRIPAY_MERCHANT_KEY is required (or use --simulator for a local dev key)", code=2)
        env["STRIPAY_MERCHANT_KEY"] = DEV_MERCHANT_KEY
    if not env.get("REDIS_URL"):
        click.echo("warning: REDIS_URL is unset; starting an embedded Redis (development only)", err=True)
        try:
            embedded = EmbeddedRedis()
            embedded.start()
        except EmbeddedRedisError as err:
            fail(str(err))
        env["REDIS_URL"] = embedded.url
    port = port or int(env.get("PORT") or 8080)
    env["PORT"] = str(port)
    # The BillRun endpoints need a public URL (http is allowed on loopback) and a shared secret.
    env["STRIPAY_PUBLIC_URL"] = env.get("STRIPAY_PUBLIC_URL") or f"http://127.0.0.1:{port}"
    env["BILLRUN_SHARED_SECRETS"] = env.get("BILLRUN_SHARED_SECRETS") or DEV_BILLRUN_SECRET
    if metrics_port is None:
        metrics_port = int(env.get("METRICS_PORT") or 9107)
    try:
        if with_simulator:
            env["STRIPAY_API_URL"] = f"http://127.0.0.1:{simulator_port}"
            children.append(_spawn(["simulator", "--port", str(simulator_port)], env))
        children.append(_spawn(["receiver", "--port", str(port), "--metrics-port", str(metrics_port)], env))
        children.append(_spawn(["worker", "--processes", str(processes), "--metrics-port", "0"], env))
        click.echo(f"notify URL: http://127.0.0.1:{port}/stripay/notify", err=True)
        if metrics_port:
            click.echo(f"metrics:    http://127.0.0.1:{metrics_port}/metrics", err=True)
        click.echo(f"Redis:      {env['REDIS_URL']}", err=True)
        click.echo(f"BillRun:    {env['STRIPAY_PUBLIC_URL']}/paymentgateways/getRequest (docs/billrun.md)", err=True)
        if with_simulator:
            click.echo(f"simulator:  {env['STRIPAY_API_URL']}  (try: stripay-hooks trigger completed"
                       f" --simulator {env['STRIPAY_API_URL']} --notify-url http://127.0.0.1:{port}/stripay/notify)",
                       err=True)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        fail("a child process exited; stopping")
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        if embedded is not None:
            embedded.cleanup()
