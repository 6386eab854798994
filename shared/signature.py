"""Stripay's notification signature, reproduced exactly and verified fail-closed.

Stripay's ``genSign(key, data)`` sorts the keys of ``data``, skips ``sign``,
``null``/``undefined`` and ``""``, concatenates ``String(value)`` for the rest,
appends the merchant key and takes the md5 hex digest. There is no separator
and no timestamp, so a valid signature only says "some merchant-keyed party
produced these concatenated characters": the worker treats the payload as a
hint and takes the order from Stripay's API.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from typing import Any

from shared.jsvalue import js_string, js_utf8, utf16_sort_key

_SIGN_PATTERN = re.compile(r"[0-9a-fA-F]{32}")


class SignatureError(Exception):
    """The notification is not signed by any configured key; ``str(err)`` says why."""


def signing_string(payload: Mapping[str, Any]) -> str:
    """The concatenated values genSign hashes, without the merchant key."""
    parts: list[str] = []
    for field in sorted(payload, key=utf16_sort_key):
        if field == "sign":
            continue
        value = payload[field]
        if value is None or value == "":
            continue
        parts.append(js_string(value))
    return "".join(parts)


def sign(payload: Mapping[str, Any], key: str) -> str:
    """Stripay's genSign: lowercase md5 hex of the signing string plus the key."""
    return hashlib.md5(js_utf8(signing_string(payload) + key)).hexdigest()


def verify(payload: Mapping[str, Any], keys: Sequence[str]) -> None:
    """Raise :class:`SignatureError` unless ``payload["sign"]`` matches one of ``keys``.

    Every key is tried (rotation), with constant-time comparison; hex case is
    ignored. No key and no part of the expected signature is put in the error.
    """
    claimed = payload.get("sign")
    if not isinstance(claimed, str) or claimed == "":
        raise SignatureError("missing sign")
    if not _SIGN_PATTERN.fullmatch(claimed):
        raise SignatureError("sign is not 32 hex characters")
    if not keys:
        raise SignatureError("no merchant key configured for this merchant")
    claimed_bytes = claimed.lower().encode("ascii")
    body = js_utf8(signing_string(payload))
    matched = False
    for key in keys:
        expected = hashlib.md5(body + js_utf8(key)).hexdigest().encode("ascii")
        matched |= hmac.compare_digest(expected, claimed_bytes)
    if not matched:
        raise SignatureError("signature does not match")
