"""The ``stripay-hooks`` command line."""

from __future__ import annotations

import importlib
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


# Subcommands, imported only when used: `stripay-hooks worker` must switch
# prometheus_client to multiprocess mode before any metric is defined, and no
# command should pay for the imports of the others.
COMMANDS: dict[str, str] = {
    "receiver": "cli.receiver_cmd:receiver",
    "worker": "cli.worker_cmd:worker",
    "dev": "cli.dev_cmd:dev",
    "orders": "cli.orders_cmd:orders",
    "simulator": "cli.simulator_cmd:simulator",
    "trigger": "cli.trigger_cmd:trigger",
    "events": "cli.events_cmd:events",
    "stats": "cli.stats_cmd:stats",
    "sign": "cli.sign_cmd:sign_command",
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module when it is invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup)
def main() -> None:
    """Verified, exactly-once order-state changes from Stripay notifications."""
