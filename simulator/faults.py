"""Injected faults for the /v1 API: latency, random 500s, hangs and fixed statuses.

A rule applies to one endpoint path (``/v1/order``) or to all of them (``*``);
an exact rule wins over ``*``. Faults never touch ``/_sim/*``. The random
500s of ``error_rate`` come from a ``random.Random`` seeded when the rule is
set, so the same rule answers the same sequence every time.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web

from simulator.errors import error_response
from simulator.validation import ValidationError

API_PREFIX = "/v1/"
ALL_ENDPOINTS = "*"


@dataclass(frozen=True)
class FaultRule:
    endpoint: str = ALL_ENDPOINTS
    latency_s: float = 0.0
    error_rate: float = 0.0  # fraction of requests answered 500
    timeout: bool = False  # hang until the client gives up (the request goes on when the faults are cleared)
    status: int | None = None  # answer this HTTP status instead of calling the API
    seed: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _number(body: Mapping[str, Any], name: str, default: float) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValidationError(name, f"{name} must be a number")
    return float(value)


def parse_fault(body: Mapping[str, Any], default_seed: int) -> FaultRule:
    """A ``POST /_sim/faults`` body as a rule (pure)."""
    endpoint = body.get("endpoint", ALL_ENDPOINTS)
    if not isinstance(endpoint, str) or not (endpoint == ALL_ENDPOINTS or endpoint.startswith(API_PREFIX)):
        raise ValidationError("endpoint", 'endpoint must be "*" or a /v1/ path')
    latency_s = _number(body, "latency_s", 0.0)
    if latency_s < 0:
        raise ValidationError("latency_s", "latency_s must be >= 0")
    error_rate = _number(body, "error_rate", 0.0)
    if not 0.0 <= error_rate <= 1.0:
        raise ValidationError("error_rate", "error_rate must be in the range [0, 1]")
    timeout = body.get("timeout", False)
    if not isinstance(timeout, bool):
        raise ValidationError("timeout", "timeout must be a boolean")
    status = body.get("status")
    if status is not None and (isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599):
        raise ValidationError("status", "status must be an HTTP status in the range [400, 599]")
    seed = body.get("seed", default_seed)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValidationError("seed", "seed must be an integer")
    return FaultRule(endpoint, latency_s, error_rate, timeout, status, seed)


class FaultTable:
    """The rules in force. Clearing them also ends every injected wait at once."""

    def __init__(self) -> None:
        self._rules: dict[str, tuple[FaultRule, random.Random]] = {}
        self._released = asyncio.Event()

    def set(self, rule: FaultRule) -> None:
        self._rules[rule.endpoint] = (rule, random.Random(rule.seed))

    def rules(self) -> list[FaultRule]:
        return [rule for rule, _rng in self._rules.values()]

    def clear(self) -> None:
        self._rules.clear()
        self.release_waits()

    def release_waits(self) -> None:
        """End every injected latency and hang now (on clear and on shutdown)."""
        self._released.set()
        self._released = asyncio.Event()

    async def _wait(self, seconds: float | None) -> bool:
        """Wait ``seconds`` (``None``: for ever); ``True`` when the wait was ended by :meth:`release_waits`."""
        released = self._released
        try:
            await asyncio.wait_for(released.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def injected_response(self, path: str) -> web.Response | None:
        """Apply the rule for ``path``; a response replaces the API's answer, ``None`` lets it run.

        A request held by a latency or a hang when the faults are cleared is let through to the API.
        """
        found = self._rules.get(path) or self._rules.get(ALL_ENDPOINTS)
        if found is None:
            return None
        rule, rng = found
        if rule.latency_s > 0 and await self._wait(rule.latency_s):
            return None
        if rule.timeout:
            await self._wait(None)
            return None
        if rule.status is not None:
            return error_response(rule.status, "fault_injected", f"injected status {rule.status}")
        if rule.error_rate > 0 and rng.random() < rule.error_rate:
            return error_response(500, "fault_injected", "injected error")
        return None


def fault_middleware(faults: FaultTable) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Middleware applying ``faults`` to /v1/* requests only."""

    @web.middleware
    async def inject_faults(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path.startswith(API_PREFIX):
            injected = await faults.injected_response(request.path)
            if injected is not None:
                return injected
        return await handler(request)

    return inject_faults
