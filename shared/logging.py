"""structlog, set up once per process: JSON lines off a terminal, readable on one.

Secrets never reach a log line: the merchant key and the sign are never
bound, and :func:`redact` drops them from any event that carries them by name.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog

SECRET_FIELDS = frozenset({"key", "sign", "merchant_key", "forward_secret", "password", "secret"})


def mask_email(email: object) -> str | None:
    if not isinstance(email, str) or "@" not in email:
        return None if email is None else "***"
    local, _, domain = email.rpartition("@")
    return (local[:1] + "***@" + domain) if local else "***@" + domain


def mask_ip(ip: object) -> str | None:
    if not isinstance(ip, str):
        return None
    if "." in ip:
        parts = ip.split(".")
        return ".".join(parts[:2] + ["x"] * (len(parts) - 2))
    if ":" in ip:
        return ip.split(":")[0] + ":x:x"
    return "***"


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for name in SECRET_FIELDS & event.keys():
        event[name] = "[redacted]"
    if "email" in event:
        event["email"] = mask_email(event["email"])
    if "ip" in event:
        event["ip"] = mask_ip(event["ip"])
    return event


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time of writing (it may be
    replaced after logging is configured, e.g. by a test harness)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def json_line(event: Any, **kwargs: Any) -> str:
    """structlog's JSON serializer: orjson (half the cost of ``json.dumps`` per line), the
    standard library for what orjson refuses (integers beyond 64 bits, say)."""
    try:
        return orjson.dumps(event, option=orjson.OPT_NON_STR_KEYS, **kwargs).decode()
    except TypeError:
        return json.dumps(event, **kwargs)


_configured = False


def configure_logging(level: str = "INFO", json_lines: bool | None = None) -> None:
    """Configure structlog and route stdlib logging (aiohttp, rq) through it."""
    global _configured
    if json_lines is None:
        json_lines = not sys.stderr.isatty()
    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]
    renderer: Any = structlog.processors.JSONRenderer(serializer=json_line) if json_lines else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared_processors, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(_CurrentStderr())  # type: ignore[arg-type]
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # One line per request from aiohttp's access log or urllib3 duplicates our summary
    # line of the unit of work (and would land in CLI output).
    for chatty in ("aiohttp.access", "urllib3"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    _configured = True


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
