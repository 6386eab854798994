"""DURATION options such as ``90s``, ``30m``, ``2h``, ``7d`` (or ``1h30m``), in seconds."""

from __future__ import annotations

import re
import time
from typing import Any

import click

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+)([smhdw])")


def parse_duration(text: str) -> int:
    """Seconds in ``text``: one or more ``<integer><unit>`` parts, unit one of s m h d w."""
    compact = text.strip().lower().replace(" ", "")
    if not compact:
        raise ValueError("empty duration")
    position, total = 0, 0
    for match in _PART.finditer(compact):
        if match.start() != position:
            break
        total += int(match.group(1)) * UNITS[match.group(2)]
        position = match.end()
    if position != len(compact):
        raise ValueError(f"{text!r} is not a duration like 90s, 30m, 2h or 7d")
    if total <= 0:
        raise ValueError(f"{text!r} must be longer than 0 seconds")
    return total


def format_age(seconds: float) -> str:
    """``3d4h``, ``2h5m``, ``40s``: the two largest units of a non-negative age."""
    remaining = max(0, int(seconds))
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if remaining >= size or (unit == "s" and not parts):
            parts.append(f"{remaining // size}{unit}")
            remaining %= size
        if len(parts) == 2:
            break
    return "".join(parts)


def now_s() -> float:
    """The CLI's clock (one place, so a test can move it)."""
    return time.time()


class Duration(click.ParamType):
    """A click option type: a DURATION string in, seconds out; a bad value is a usage error (exit 2)."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as err:
            self.fail(str(err), param, ctx)


DURATION = Duration()
