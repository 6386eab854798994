"""Which URLs this service may hand out: its own public base URL and the pages it redirects to.

A URL qualifies only in a strict form a browser reads the same way Python does:
``https`` (``http`` only on a loopback host, for local development), a host
name or IP literal without user info, backslashes, whitespace or non-ASCII
characters, so no parser disagreement can turn an allowed host into another.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import SplitResult, parse_qsl, urlsplit

LOOPBACK_NAMES = ("localhost",)
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
NETLOC = re.compile(r"(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(?P<port>[0-9]{1,5}))?")
WILDCARD = "*."


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def is_loopback_host(host: str) -> bool:
    address = _ip(host)
    return address.is_loopback if address is not None else host.lower().rstrip(".") in LOOPBACK_NAMES


def _split_strict(url: str) -> tuple[SplitResult, str]:
    """``url`` split, and its lowercased host; ValueError saying what is wrong with it."""
    if not url.isascii() or any(char.isspace() or char == "\\" or ord(char) < 0x20 or ord(char) == 0x7F
                                for char in url):
        raise ValueError("must not contain spaces, backslashes, control or non-ASCII characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL")
    match = NETLOC.fullmatch(parts.netloc)
    if match is None:
        raise ValueError("must name a host (no user info)")
    host = match.group("host").lower().rstrip(".")
    if _ip(host) is None and not HOST_NAME.fullmatch(host):
        raise ValueError("must name a valid host")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise ValueError("must be https (http only on a loopback host)")
    return parts, host


def public_base_url(url: str) -> str:
    """This service's public base URL, checked and without a trailing slash; ValueError saying why not."""
    parts, _host = _split_strict(url)
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ValueError("must not have a query or fragment")
    return url.rstrip("/")


def url_host(url: str) -> str:
    """The lowercased host of a URL :func:`public_base_url` accepted."""
    return _split_strict(url)[1]


def host_pattern(entry: str) -> str:
    """One entry of an allowed-host list: a host name, an IP literal, or ``*.`` and a domain."""
    pattern = entry.strip().lower().rstrip(".")
    name = pattern.removeprefix(WILDCARD)
    if _ip(name) is not None and name == pattern:
        return str(_ip(name))
    if not HOST_NAME.fullmatch(name) or name.count(".") < (1 if pattern.startswith(WILDCARD) else 0):
        raise ValueError(f"{entry.strip()!r} is not a host name (or *.domain)")
    return pattern


def host_allowed(host: str, patterns: Iterable[str]) -> bool:
    """``host`` is listed, or is a subdomain of a ``*.domain`` entry (the domain itself is not)."""
    host = host.lower().rstrip(".")
    address = _ip(host)
    if address is not None:
        host = str(address)
    for pattern in patterns:
        if pattern.startswith(WILDCARD):
            if address is None and host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern:
            return True
    return False


def redirect_problem(url: str, patterns: Iterable[str], reserved_params: Iterable[str]) -> str | None:
    """Why ``url`` may not be a page this service redirects to, or None."""
    try:
        parts, host = _split_strict(url)
    except ValueError as err:
        return str(err)
    if not host_allowed(host, patterns):
        return f"host {host} is not an allowed redirect host"
    names = {name for name, _value in parse_qsl(parts.query, keep_blank_values=True)}
    clashing = sorted(names & set(reserved_params))
    if clashing:
        return f"must not already carry {' or '.join(clashing)} in its query"
    return None
