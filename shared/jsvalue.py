"""JavaScript's ``String(value)`` for values produced by ``JSON.parse``.

Stripay signs ``signStr += value``, so every value is converted the way a
JavaScript engine converts it to a string. Python's :mod:`json` yields
``int``/``float``/``bool``/``None``/``str``/``list``/``dict``; this module maps
each to exactly the string V8 would produce for the corresponding JS value.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_SAFE_INTEGER = 2**53 - 1
# Arrays are joined recursively; deeper nesting is refused rather than left to
# overflow Python's stack (acceptance refuses bodies nested this deep anyway).
MAX_ARRAY_DEPTH = 100
# Where both JS and Python's repr() write a double in fixed (not exponent) notation.
FIXED_NOTATION_MIN = 1e-4
FIXED_NOTATION_MAX = 1e16


def js_number_to_string(number: int | float) -> str:
    """``Number.prototype.toString()`` (ECMA-262 Number::toString, radix 10).

    JSON.parse turns every number into an IEEE-754 double, so integers beyond
    2**53 lose precision and anything beyond the double range is Infinity.
    """
    if isinstance(number, int) and -MAX_SAFE_INTEGER <= number <= MAX_SAFE_INTEGER:
        return str(number)  # exact in a double: JS prints the same digits
    if isinstance(number, float) and FIXED_NOTATION_MIN <= abs(number) < FIXED_NOTATION_MAX:
        # Python's repr is the same shortest round-trip digits, also in fixed notation here.
        text = repr(number)
        return text[:-2] if text.endswith(".0") else text
    try:
        value = float(number)
    except OverflowError:  # an int too large for a double
        value = math.inf if number > 0 else -math.inf
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"  # also for -0
    sign = "-" if value < 0 else ""
    # repr() gives the shortest digit string that round-trips, as JS requires.
    digits_tuple, exponent = Decimal(repr(abs(value))).as_tuple()[1:]
    digits = "".join(map(str, digits_tuple)).rstrip("0")
    trailing_zeros = len(digits_tuple) - len(digits)
    k = len(digits)
    n = k + int(exponent) + trailing_zeros  # value == 0.digits * 10**n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    exp = n - 1
    exp_str = ("+" if exp >= 0 else "-") + str(abs(exp))
    if k == 1:
        return sign + digits + "e" + exp_str
    return sign + digits[0] + "." + digits[1:] + "e" + exp_str


class UnconvertibleValue(ValueError):
    """A value this module will not convert (arrays nested deeper than MAX_ARRAY_DEPTH)."""


def js_string(value: Any, _depth: int = 0) -> str:
    """``String(value)`` for a JSON value, as JavaScript computes it.

    Raises :class:`UnconvertibleValue` for arrays nested deeper than MAX_ARRAY_DEPTH.
    """
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return js_number_to_string(value)
    if isinstance(value, list):
        # Array.prototype.join: null and undefined elements become "".
        if _depth >= MAX_ARRAY_DEPTH:
            raise UnconvertibleValue(f"a value nests arrays deeper than {MAX_ARRAY_DEPTH} levels")
        return ",".join("" if item is None else js_string(item, _depth + 1) for item in value)
    return "[object Object]"


def utf16_sort_key(text: str) -> bytes:
    """Sort key matching JavaScript's default ``Array.prototype.sort`` on strings
    (UTF-16 code units, not code points)."""
    return text.encode("utf-16-be", "surrogatepass")


def js_utf8(text: str) -> bytes:
    """UTF-8 bytes as Node encodes a JS string: lone surrogates become U+FFFD."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # only lone surrogates cannot be encoded
        return _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8")
