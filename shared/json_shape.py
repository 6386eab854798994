"""How deeply a JSON text nests, read before it is parsed.

A notification is one flat object. A body nested hundreds of levels deep is
not one, and it is dangerous to read: ``json.loads`` recurses once per level
(``RecursionError`` near 1,000) and so does the signature's JavaScript value
conversion. :func:`nests_deeper_than` answers from the text alone, without
recursion: it counts ``[``/``{`` with ``str.count`` first (a real notification
has one or two), and only when there are more than ``limit`` of them walks the
brackets outside strings, stopping at the first level beyond ``limit``.
"""

from __future__ import annotations

import re

# A JSON string: quotes, then anything but a quote or backslash, or an escape.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def nests_deeper_than(text: str, limit: int) -> bool:
    """True when arrays and objects in the JSON ``text`` nest more than ``limit`` levels
    (the outermost object is level 1). For text that is not JSON the answer does not
    matter: the parser refuses it either way."""
    if text.count("[") + text.count("{") <= limit:
        return False
    structure = _STRING.sub("", text) if '"' in text else text
    depth = 0
    for bracket in _BRACKET.finditer(structure):
        if bracket.group() in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False
