"""Printing for the operator commands: JSON for machines, aligned tables for people,
a progress bar only on a terminal, and one clear line (never a traceback) when
Redis or Stripay cannot be reached."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, NoReturn, TypeVar

import click
import redis

from shared.redis_client import sync_client
from shared.settings import Settings
from shared.stripay_client import ApiError, ApiRejected

T = TypeVar("T")


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    text = str(value)
    return text.replace("\n", " ")


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Columns padded to their widest cell; ``None`` shows as ``-``; the last column is not padded."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        for index, text in enumerate(row):
            widths[index] = max(widths[index], len(text))

    def line(values: Sequence[str]) -> str:
        padded = [text.ljust(widths[i]) if i < len(values) - 1 else text for i, text in enumerate(values)]
        return "  ".join(padded).rstrip()

    click.echo(line([header.upper() for header in headers]))
    for row in cells:
        click.echo(line(row))


def iso(moment: datetime | float | None) -> str | None:
    """UTC ISO 8601 with seconds, for tables and JSON; ``None`` stays ``None``."""
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, tz=timezone.utc)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@contextmanager
def progress(items: Iterable[T], length: int | None, label: str) -> Iterator[Iterable[T]]:
    """``click.progressbar`` on stderr when stderr is a terminal; the bare iterable otherwise."""
    if not sys.stderr.isatty():
        yield items
        return
    with click.progressbar(items, length=length, label=label, file=sys.stderr) as bar:
        yield bar


class Counter:
    """A progress bar fed with amounts (pages of orders) rather than an iterable."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._bar: Any = None

    def update(self, done: int, total: int) -> None:
        if not sys.stderr.isatty():
            return
        if self._bar is None:
            self._bar = click.progressbar(length=max(total, 1), label=self._label, file=sys.stderr)
            self._bar.__enter__()
        self._bar.length = max(total, done, 1)
        self._bar.update(done - self._bar.pos)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


# cli.main is imported when called, not at import time: it imports the commands, which import this.


def fail(message: str, code: int = 1) -> NoReturn:
    """:func:`cli.main.fail`: one line on stderr and exit ``code``."""
    from cli import main

    main.fail(message, code)


def load_settings() -> Settings:
    """:func:`cli.main.load_settings`: settings from the environment; invalid ones exit 2."""
    from cli import main

    return main.load_settings()


def redis_settings() -> Settings:
    """Settings of a command that needs Redis; no REDIS_URL is a usage error."""
    settings = load_settings()
    if settings.redis_url is None:
        fail("REDIS_URL is required", code=2)
    return settings


def connect(settings: Settings) -> redis.Redis:
    """A client that has answered a PING, or one line and exit 1."""
    client = sync_client(settings.redis_url or "")
    with reachable():
        client.ping()
    return client


@contextmanager
def reachable() -> Iterator[None]:
    """Turn a Redis or Stripay failure inside the block into one line on stderr and exit 1."""
    try:
        yield
    except redis.exceptions.RedisError as err:
        detail = str(err).splitlines()[0][:200] if str(err) else ""
        fail(f"Redis unreachable at REDIS_URL: {type(err).__name__}" + (f" ({detail})" if detail else ""))
    except ApiRejected as err:
        fail(f"Stripay refused the request: {err}")
    except ApiError as err:
        fail(f"Stripay unreachable: {err}")
