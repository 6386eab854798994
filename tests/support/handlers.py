"""A transition handler for STRIPAY_HANDLER in tests: records what it was given."""

from __future__ import annotations

from typing import Any

received: list[dict[str, Any]] = []
failures_left = 0


def record(event: dict[str, Any]) -> None:
    global failures_left
    if failures_left > 0:
        failures_left -= 1
        raise RuntimeError("handler failure injected by the test")
    received.append(event)
