"""Turn a request body into the object Stripay signed, or say why it is not one."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from shared.notification import MalformedNotification

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON.parse (and so Stripay) does not.
    raise MalformedNotification(f"invalid JSON constant {name}")


def parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """The payload as ``JSON.parse`` (or a form decoder, values as strings) gives it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedNotification("body is not UTF-8") from None
    if content_type == FORM_CONTENT_TYPE:
        try:
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
        except (ValueError, UnicodeDecodeError):
            raise MalformedNotification("form body cannot be read") from None
        payload: dict[str, Any] = dict(pairs)
    else:
        try:
            payload = json.loads(text, parse_constant=_reject_constant)
        except MalformedNotification:
            raise
        except (ValueError, RecursionError):
            raise MalformedNotification("body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise MalformedNotification("body is not a JSON object")
    return payload
