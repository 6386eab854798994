"""PHP's ``json_decode($text, true)``, ``json_encode($value)`` (default flags) and ``urlencode``.

BillRun signs ``json_encode`` of a decoded request, so a verifier has to write
exactly PHP's bytes, which differ from :func:`json.dumps`:

- ``/`` is written ``\\/``; every non-ASCII character as ``\\uXXXX`` (lowercase
  hex, UTF-16 surrogate pairs beyond the BMP); other control characters as
  ``\\u00XX`` except ``\\b \\f \\n \\r \\t``;
- a float is written in its shortest round-trip digits (``serialize_precision``
  -1) without a fraction when integral (``25.0`` is ``25``) and in PHP's
  exponent style beyond 17 integer digits or below 1e-4 (``1.0e+21``, ``1.5e-5``);
- PHP decodes a JSON object to an array: an empty one is written ``[]``, one
  whose keys are exactly ``"0"``, ``"1"``, ... in that order is written as a list;
- an integer literal beyond the 64-bit range is decoded as a float.

Decoded values are Python values: ``dict`` (keys in the order sent; a repeated
key keeps its first place and its last value, like PHP), ``list``, ``str``,
``int`` (always 64-bit), ``float``, ``bool``, ``None``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote_plus

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MAX_DEPTH = 512  # json_decode's and json_encode's default depth
JSON_EXPONENT_AFTER = 17  # serialize_precision -1: fixed notation up to 17 integer digits
STRING_PRECISION = 14  # PHP's `precision` ini: (string) of a float

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED = re.compile('["\\\\/\x00-\x1f\x80-\U0010ffff]')
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "/": "\\/", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
                  "\t": "\\t"}


class PhpJsonError(ValueError):
    """Text PHP's ``json_decode`` refuses, or a value ``json_encode`` cannot write; ``str(err)`` says why."""


# --- json_decode -----------------------------------------------------------------------------


def _int_or_float(text: str) -> int | float:
    try:
        value = int(text)
    except ValueError:  # more digits than Python converts: far beyond 64 bits anyway
        return _finite(text)
    return value if INT64_MIN <= value <= INT64_MAX else _finite(text)


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise PhpJsonError(f"number out of range: {text[:20]}")
    return value


def _refuse_constant(name: str) -> None:
    raise PhpJsonError(f"{name} is not JSON")


def _check(value: Any, depth: int) -> None:
    """Refuse what PHP's decoder refuses but Python's accepts: lone surrogates, nesting beyond 512."""
    if isinstance(value, str):
        if _LONE_SURROGATE.search(value):
            raise PhpJsonError("single unpaired UTF-16 surrogate")
        return
    if isinstance(value, (dict, list)):
        if depth > MAX_DEPTH:
            raise PhpJsonError(f"nested deeper than {MAX_DEPTH}")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str):
                _check(key, depth)
            _check(item, depth + 1)


def json_decode(text: str | bytes) -> Any:
    """``json_decode($text, true)``, or :class:`PhpJsonError` where PHP answers null with an error."""
    try:
        value = json.loads(text, object_pairs_hook=dict, parse_int=_int_or_float, parse_float=_finite,
                           parse_constant=_refuse_constant)
    except PhpJsonError:
        raise
    except RecursionError:
        raise PhpJsonError(f"nested deeper than {MAX_DEPTH}") from None
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError included
        raise PhpJsonError(f"not valid JSON ({err})") from None
    _check(value, 1)
    return value


# --- numbers as PHP writes them --------------------------------------------------------------


def _gcvt(value: float, digits: str, decpt: int, exponent_after: int, exponent_char: str) -> str:
    """PHP's ``php_gcvt``/``zend_gcvt`` layout of ``0.<digits> x 10**decpt``."""
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if decpt < -3 or decpt > exponent_after:
        exponent = decpt - 1
        mantissa = digits[0] + "." + (digits[1:] or "0")
        return f"{sign}{mantissa}{exponent_char}{'-' if exponent < 0 else '+'}{abs(exponent)}"
    if decpt <= 0:
        return f"{sign}0.{'0' * -decpt}{digits}"
    whole = digits[:decpt].ljust(decpt, "0")
    fraction = digits[decpt:]
    return f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}"


def _digits(value: float, significant: int | None) -> tuple[str, int]:
    """Decimal digits (no trailing zeros) and the decimal point's place: shortest round-trip
    when ``significant`` is None, else rounded to that many significant digits."""
    if value == 0:
        return "0", 1
    text = repr(abs(value)) if significant is None else f"{abs(value):.{significant - 1}e}"
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    leading_zeros = len(whole + fraction) - len((whole + fraction).lstrip("0"))
    decpt = len(whole) - leading_zeros + (int(exponent) if exponent else 0)
    return digits.rstrip("0") or "0", decpt


def json_number(value: int | float) -> str:
    """A number as ``json_encode`` writes it."""
    if isinstance(value, int) and INT64_MIN <= value <= INT64_MAX:
        return str(value)
    number = float(value)
    if not math.isfinite(number):
        raise PhpJsonError("Inf and NaN cannot be JSON encoded")
    digits, decpt = _digits(number, None)
    return _gcvt(number, digits, decpt, JSON_EXPONENT_AFTER, "e")


def php_string(value: str | int | float | bool) -> str:
    """``(string) $value`` of a scalar (what ``urlencode`` sees): floats with ``precision`` 14."""
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, int) and INT64_MIN <= value <= INT64_MAX:
        return str(value)
    if isinstance(value, (int, float)):
        number = float(value)
        if math.isnan(number):
            return "NAN"
        if math.isinf(number):
            return "-INF" if number < 0 else "INF"
        digits, decpt = _digits(number, STRING_PRECISION)
        return _gcvt(number, digits, decpt, STRING_PRECISION, "E")
    return value


# --- json_encode -----------------------------------------------------------------------------


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_string(text: str) -> str:
    if _LONE_SURROGATE.search(text):
        raise PhpJsonError("malformed UTF-8 (a lone surrogate)")
    return '"' + _ESCAPED.sub(_escape, text) + '"'


def is_list(array: Mapping[Any, Any]) -> bool:
    """PHP's ``array_is_list`` of an array decoded from an object: keys exactly 0, 1, 2, ... in order."""
    return all(str(key) == str(index) for index, key in enumerate(array))


def _encode(value: Any, depth: int, out: list[str]) -> None:
    """One frame per nesting level, so PHP's full depth of 512 stays within Python's recursion limit."""
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, (int, float)):
        out.append(json_number(value))
    elif isinstance(value, str):
        out.append(json_string(value))
    elif isinstance(value, (Mapping, list, tuple)):
        if depth > MAX_DEPTH:
            raise PhpJsonError(f"nested deeper than {MAX_DEPTH}")
        as_object = isinstance(value, Mapping) and not is_list(value)
        entries: Iterable[tuple[str, Any]]
        if as_object:
            entries = ((json_string(str(key)) + ":", item) for key, item in value.items())
        else:
            entries = (("", item) for item in (value.values() if isinstance(value, Mapping) else value))
        out.append("{" if as_object else "[")
        for index, (prefix, item) in enumerate(entries):
            out.append("," + prefix if index else prefix)
            _encode(item, depth + 1, out)
        out.append("}" if as_object else "]")
    else:
        raise PhpJsonError(f"type {type(value).__name__} is not supported")


def json_encode(value: Any) -> str:
    """``json_encode($value)`` with default flags (always ASCII), or :class:`PhpJsonError` where PHP fails."""
    out: list[str] = []
    _encode(value, 1, out)
    return "".join(out)


# --- urlencode -------------------------------------------------------------------------------


def urlencode(value: str | int | float | bool) -> str:
    """PHP's ``urlencode``: ``A-Za-z0-9_.-`` kept, space as ``+``, every other UTF-8 byte as
    upper-case ``%XX`` (``~`` included)."""
    text = php_string(value)
    if _LONE_SURROGATE.search(text):
        raise PhpJsonError("malformed UTF-8 (a lone surrogate)")
    return quote_plus(text, safe="", encoding="utf-8").replace("~", "%7E")
