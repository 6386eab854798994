"""Which hosts the service redirects to, and what its own public URL may be."""

import pytest

from shared.url_rules import host_allowed, host_pattern, is_loopback_host, public_base_url, redirect_problem

ALLOWED = ("shop.example.com", "*.billing.example", "127.0.0.1")
RESERVED = ("txId", "status")


@pytest.mark.parametrize("url", ["https://shop.example.com/ok", "https://SHOP.example.com:8443/ok?lang=en#top",
                                 "https://a.billing.example/ok", "https://x.y.billing.example/ok",
                                 "http://127.0.0.1:9000/ok", "https://shop.example.com./ok"])
def test_allowed_redirects(url: str) -> None:
    assert redirect_problem(url, ALLOWED, RESERVED) is None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://evil.example/ok", "host evil.example is not an allowed redirect host"),
        ("https://billing.example/ok", "host billing.example is not an allowed redirect host"),
        ("https://shop.example.com.evil.example/ok", "is not an allowed redirect host"),
        ("https://evilbilling.example/ok", "is not an allowed redirect host"),
        ("http://shop.example.com/ok", "must be https (http only on a loopback host)"),
        ("javascript:alert(1)", "must be an absolute http(s) URL"),
        ("//shop.example.com/ok", "must be an absolute http(s) URL"),
        ("https://shop.example.com@evil.example/ok", "must name a host (no user info)"),
        ("https://evil.example\\@shop.example.com/ok", "backslashes"),
        ("https://shop.example.com/ok page", "spaces"),
        ("https://shöp.example.com/ok", "non-ASCII"),
        ("https://shop.example.com/ok?txId=1", "must not already carry txId in its query"),
        ("https://shop.example.com/ok?a=1&status=x", "must not already carry status in its query"),
        ("https://shop.example.com/ok?tx%49d=1", "must not already carry txId in its query"),
    ],
)
def test_refused_redirects(url: str, problem: str) -> None:
    found = redirect_problem(url, ALLOWED, RESERVED)
    assert found is not None and problem in found


def test_wildcard_matches_subdomains_only() -> None:
    assert host_allowed("a.example.com", ["*.example.com"])
    assert not host_allowed("example.com", ["*.example.com"])


@pytest.mark.parametrize(("entry", "pattern"), [("Shop.Example.com", "shop.example.com"), ("*.example.com", "*.example.com"),
                                                ("127.0.0.1", "127.0.0.1"), ("::1", "::1"), ("localhost", "localhost")])
def test_host_patterns(entry: str, pattern: str) -> None:
    assert host_pattern(entry) == pattern


@pytest.mark.parametrize("entry", ["*", "*.com", "shop.example.com:443", "https://shop.example.com", "a_b.example",
                                   "*.*.example.com"])
def test_bad_host_patterns(entry: str) -> None:
    with pytest.raises(ValueError):
        host_pattern(entry)


def test_loopback_hosts() -> None:
    assert all(is_loopback_host(host) for host in ("127.0.0.1", "127.1.2.3", "[::1]", "localhost"))
    assert not any(is_loopback_host(host) for host in ("10.0.0.1", "example.com", "localhost.example.com"))


def test_public_base_url_loses_its_trailing_slash() -> None:
    assert public_base_url("https://pay.example.com/hooks/") == "https://pay.example.com/hooks"
