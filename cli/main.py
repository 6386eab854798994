"""The ``stripay-hooks`` command line."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import click

from shared.settings import Settings, SettingsError


def fail(message: str, code: int = 1) -> NoReturn:
    """One clear line on stderr and an exit code; never a traceback."""
    click.echo(f"stripay-hooks: {message}", err=True)
    sys.exit(code)


def load_settings(**overrides: str) -> Settings:
    environ = dict(os.environ)
    environ.update({name: value for name, value in overrides.items() if value})
    try:
        return Settings.from_env(environ)
    except SettingsError as err:
        fail(str(err), code=2)


@click.group()
def main() -> None:
    """Verified, exactly-once order-state changes from Stripay notifications."""


def _register() -> None:
    from cli import dev_cmd, orders_cmd, receiver_cmd, simulator_cmd, trigger_cmd, worker_cmd

    main.add_command(receiver_cmd.receiver)
    main.add_command(worker_cmd.worker)
    main.add_command(dev_cmd.dev)
    main.add_command(orders_cmd.orders)
    main.add_command(simulator_cmd.simulator)
    main.add_command(trigger_cmd.trigger)

    from cli import events_cmd, sign_cmd, stats_cmd

    main.add_command(events_cmd.events)
    main.add_command(stats_cmd.stats)
    main.add_command(sign_cmd.sign_command)


_register()
