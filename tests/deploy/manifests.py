"""Helpers for checking deployment files against the code they run."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import click

from shared.settings import Settings

DUMMY_KEY = "not-a-real-key"
DUMMY_SHARED_SECRET = "not-a-real-shared-secret"


def parse_command(argv: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """Parse ``stripay-hooks SUBCOMMAND [SUB...] ARGS`` with the real CLI; (subcommand path, params)."""
    from cli.main import main

    assert list(argv[:1]) == ["stripay-hooks"], f"not a stripay-hooks command: {argv}"
    assert len(argv) >= 2, f"no subcommand in {argv}"
    command: click.Command = main
    names: list[str] = []
    rest = [str(arg) for arg in argv[1:]]
    while isinstance(command, click.Group):
        assert rest, f"`{' '.join(argv)}` names no subcommand of {' '.join(names) or 'stripay-hooks'}"
        name = rest.pop(0)
        group_context = click.Context(command)
        sub = command.get_command(group_context, name)
        assert sub is not None, (f"`{' '.join(['stripay-hooks', *names, name])}` is not a command "
                                 f"(have: {command.list_commands(group_context)})")
        command, names = sub, [*names, name]
    try:
        context = command.make_context(" ".join(names), rest)
    except click.ClickException as err:
        raise AssertionError(f"`{' '.join(map(str, argv))}`: {err.format_message()}") from None
    return " ".join(names), dict(context.params)


def receiver_get_paths() -> set[str]:
    """GET paths the receiver really serves (from its router)."""
    from receiver.app import create_app

    app = create_app(Settings(merchant_keys=(DUMMY_KEY,), redis_url="redis://127.0.0.1:1/0"))
    return {
        route.resource.canonical
        for route in app.router.routes()
        if route.method in ("GET", "*") and route.resource is not None
    }


def receiver_metrics_paths() -> set[str]:
    """GET paths of the receiver's metrics port (from its router)."""
    from receiver.metrics_server import create_metrics_app

    return {route.resource.canonical for route in create_metrics_app().router.routes() if route.resource is not None}


def seconds(value: object) -> float:
    """Compose / Go durations ("90s", "1m30s", "500ms") or plain seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {value!r}")
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 0.000001}
    return sum(float(n) * scale[u] for n, u in parts)


COMPOSE_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def compose_interpolate(value: str, variables: Mapping[str, str] | None = None) -> str:
    """Compose's ``${VAR:-default}`` / ``${VAR:?error}`` / ``${VAR}`` and ``$$``, with
    ``variables`` set (a required one that is not set becomes :data:`DUMMY_KEY`)."""
    variables = variables or {}

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, rest = match.group(1), match.group(2) or "", match.group(3) or ""
        if variables.get(name):
            return variables[name]
        if operator in (":-", "-"):
            return rest
        if operator in (":?", "?"):
            return DUMMY_KEY  # required: the operator of the stack sets it
        return ""

    return COMPOSE_VARIABLE.sub(one, value)


def compose_variables(text: str) -> dict[str, set[str]]:
    """Each variable a Compose file interpolates, with the operators it is used with ("" for none)."""
    used: dict[str, set[str]] = {}
    for match in COMPOSE_VARIABLE.finditer(text):
        if match.group(1):
            used.setdefault(match.group(1), set()).add(match.group(2) or "")
    return used


def settings_from(environ: Mapping[str, str]) -> Settings:
    """The settings a process would load from this environment (the secrets a Secret or an env
    file would add filled in when absent)."""
    env = {"STRIPAY_MERCHANT_KEY": DUMMY_KEY, "BILLRUN_SHARED_SECRETS": DUMMY_SHARED_SECRET,
           **{k: str(v) for k, v in environ.items()}}
    return Settings.from_env(env)
