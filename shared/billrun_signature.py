"""BillRun's request signature (``Billrun_Utils_Security::validateData``), verified fail-closed.

A BillRun client puts ``_t_`` (Unix seconds) into its ``data`` object and signs
PHP's ``json_encode`` of that object (keys in the order sent, ``_sig_`` left
out) after replacing the values of ``return_url``, ``name``, ``ok_page`` and
``fail_page`` (where present and not null) by PHP's ``urlencode`` of them.
``_sig_`` is the lowercase hex HMAC-SHA512 of that string with a shared secret.

Beyond BillRun, :func:`verify` also refuses a ``_t_`` further than the
tolerance from now; refusing a signature seen before needs shared state and is
the caller's part (see ``receiver.billrun.store``).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.php import PhpJsonError, json_decode, json_encode, urlencode

SIGNATURE_FIELD = "_sig_"
TIMESTAMP_FIELD = "_t_"
URLENCODED_FIELDS = ("return_url", "name", "ok_page", "fail_page")
SIGNATURE_PATTERN = re.compile(r"[0-9a-f]{128}")
TIMESTAMP_PATTERN = re.compile(r"[0-9]{1,15}")


class DataError(ValueError):
    """``data`` is not a JSON object PHP would decode; ``str(err)`` says why."""


class SignatureError(ValueError):
    """The signature is missing, malformed, wrong or stale; ``str(err)`` says which and why."""


@dataclass(frozen=True)
class SignedData:
    """``data`` whose signature verified: its fields (``_sig_`` left out), the signature and ``_t_``."""

    fields: Mapping[str, Any]
    signature: str
    signed_at: int


def decode_data(raw: str) -> dict[str, Any]:
    """The ``data`` parameter as PHP's ``json_decode($raw, true)`` sees it; a JSON object only."""
    try:
        data = json_decode(raw)
    except PhpJsonError as err:
        raise DataError(f"data is not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise DataError("data must be a JSON object")
    return data


def signed_string(data: Mapping[str, Any]) -> str:
    """What BillRun signs for ``data``: ``json_encode`` of it without ``_sig_``, the URL fields urlencoded."""
    unsigned: dict[str, Any] = {}
    for name, value in data.items():
        if name == SIGNATURE_FIELD:
            continue
        if name in URLENCODED_FIELDS and value is not None:
            if isinstance(value, (dict, list)):
                raise SignatureError(f"{name} cannot be signed: it is not a scalar")
            if isinstance(value, float) and not math.isfinite(value):
                raise SignatureError(f"{name} cannot be signed: not a finite number")
            value = urlencode(value)
        unsigned[name] = value
    try:
        return json_encode(unsigned)
    except PhpJsonError as err:
        raise SignatureError(f"data cannot be signed: {err}") from None


def signature(data: Mapping[str, Any], secret: str) -> str:
    """``hash_hmac('sha512', <signed string>, secret)``: what a BillRun client puts in ``_sig_``."""
    message = signed_string(data).encode("ascii")  # json_encode's output is always ASCII
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha512).hexdigest()


def sign(data: Mapping[str, Any], secret: str) -> dict[str, Any]:
    """``data`` with ``_sig_`` added, as a BillRun client sends it (``_t_`` must already be there)."""
    signed = {name: value for name, value in data.items() if name != SIGNATURE_FIELD}
    signed[SIGNATURE_FIELD] = signature(signed, secret)
    return signed


def _timestamp(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, float) and math.isfinite(value) and value >= 0 and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.isascii() and TIMESTAMP_PATTERN.fullmatch(value):
        return int(value)
    raise SignatureError(f"{TIMESTAMP_FIELD} must be Unix seconds")


def verify(data: Mapping[str, Any], secrets: Sequence[str], now: float, tolerance_s: float) -> SignedData:
    """``data``'s fields if ``_sig_`` is the signature of one of ``secrets`` and ``_t_`` is within
    ``tolerance_s`` of ``now``; otherwise :class:`SignatureError` saying precisely why."""
    if SIGNATURE_FIELD not in data or data[SIGNATURE_FIELD] in (None, ""):
        raise SignatureError(f"{SIGNATURE_FIELD} is missing")
    if TIMESTAMP_FIELD not in data or data[TIMESTAMP_FIELD] in (None, ""):
        raise SignatureError(f"{TIMESTAMP_FIELD} is missing")
    given = data[SIGNATURE_FIELD]
    if not isinstance(given, str) or not SIGNATURE_PATTERN.fullmatch(given):
        raise SignatureError(f"{SIGNATURE_FIELD} must be 128 lowercase hex digits")
    signed_at = _timestamp(data[TIMESTAMP_FIELD])
    if not secrets:
        raise SignatureError("no shared secret is configured")
    message = signed_string(data).encode("ascii")
    matches = [
        hmac.compare_digest(hmac.new(secret.encode("utf-8"), message, hashlib.sha512).hexdigest(), given)
        for secret in secrets
    ]
    if not any(matches):
        raise SignatureError(f"{SIGNATURE_FIELD} does not match the data")
    skew_s = now - signed_at
    if abs(skew_s) > tolerance_s:
        when = "old" if skew_s > 0 else "in the future"
        raise SignatureError(f"{TIMESTAMP_FIELD} is {abs(skew_s):.0f} s {when} (tolerance {tolerance_s:g} s)")
    fields = {name: value for name, value in data.items() if name != SIGNATURE_FIELD}
    return SignedData(fields=fields, signature=given, signed_at=signed_at)
