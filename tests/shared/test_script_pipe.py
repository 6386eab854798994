"""PipelinedScript: one script, many callers, one pipelined connection; every failure fails closed.

The behaviour every URL form shares runs against a plain (``redis://``) and a
TLS-only (``rediss://``) redis-server; what only TLS has is tested at the end.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis.asyncio
import redis.exceptions
from redis.connection import parse_url

from shared.embedded_redis import EmbeddedRedis
from shared.script_pipe import PipelinedScript, pack_command, tls_context
from tests.support.tls_redis import TlsRedis

INCR_SCRIPT = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
PAIR_SCRIPT = "return {tonumber(ARGV[1]), ARGV[2]}"


def _script(url: str, script: str = INCR_SCRIPT, timeout_s: float = 5.0) -> PipelinedScript:
    return PipelinedScript(url, script, timeout_s=timeout_s, connect_timeout_s=2.0)


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    connection = redis.asyncio.Redis.from_url(redis_url)
    yield connection
    await connection.aclose()


@dataclass(frozen=True)
class Served:
    server: EmbeddedRedis | TlsRedis
    url: str


@pytest.fixture(params=["redis://", "rediss://"])
def served(request: pytest.FixtureRequest) -> Served:
    """The test's Redis: plain TCP, or TLS only (client certificate, CA of its own)."""
    if request.param == "redis://":
        return Served(request.getfixturevalue("redis_server"), request.getfixturevalue("redis_url"))
    return Served(request.getfixturevalue("tls_redis_server"), request.getfixturevalue("tls_redis_url"))


@pytest.fixture
async def served_client(served: Served) -> AsyncIterator[redis.asyncio.Redis]:
    connection = redis.asyncio.Redis.from_url(served.url)
    yield connection
    await connection.aclose()


@pytest.fixture
async def incr(served: Served) -> AsyncIterator[PipelinedScript]:
    script = _script(served.url)
    yield script
    await script.close()


async def _silent_server(reply: bytes = b"") -> tuple[asyncio.Server, int]:
    """A TCP server that reads everything and answers ``reply`` once, or nothing."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        if reply:
            writer.write(reply)
            await writer.drain()
        await reader.read()  # until the client goes away
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_pack_command_is_resp_bulk_strings() -> None:
    assert pack_command(b"EVALSHA", "é", 2, 1.5) == b"*4\r\n$7\r\nEVALSHA\r\n$2\r\n\xc3\xa9\r\n$1\r\n2\r\n$3\r\n1.5\r\n"


@pytest.mark.parametrize("value", [None, True, {"a": 1}])
def test_pack_command_refuses_what_redis_py_refuses(value: object) -> None:
    with pytest.raises(redis.exceptions.DataError):
        pack_command(b"EVALSHA", value)


async def test_concurrent_calls_each_get_their_own_reply(incr: PipelinedScript) -> None:
    replies = await asyncio.gather(*(incr([f"k{n}"], [n]) for n in range(50)))
    assert replies == list(range(50))


async def test_replies_keep_their_shape(served: Served) -> None:
    script = _script(served.url, PAIR_SCRIPT)
    try:
        assert await script([], [7, "job-id"]) == [7, b"job-id"]
    finally:
        await script.close()


async def test_concurrent_calls_share_one_connection(incr: PipelinedScript,
                                                     served_client: redis.asyncio.Redis) -> None:
    await incr(["warm"], [1])  # connects
    before = (await served_client.info("stats"))["total_connections_received"]
    await asyncio.gather(*(incr([f"k{n}"], [1]) for n in range(50)))
    after = (await served_client.info("stats"))["total_connections_received"]
    assert after == before


async def test_an_error_fails_only_its_own_call(incr: PipelinedScript, served_client: redis.asyncio.Redis) -> None:
    await served_client.hset("a-hash", "f", "v")
    results = await asyncio.gather(incr(["ok"], [2]), incr(["a-hash"], [1]), incr(["ok"], [3]),
                                   return_exceptions=True)
    assert results[0] == 2 and results[2] == 5
    assert isinstance(results[1], redis.exceptions.ResponseError)


async def test_lost_script_cache_is_reloaded(incr: PipelinedScript, served_client: redis.asyncio.Redis) -> None:
    await incr(["k"], [1])
    await served_client.script_flush()
    assert sorted(await asyncio.gather(incr(["k"], [1]), incr(["k"], [1]))) == [2, 3]
    assert await served_client.get("k") == b"3"  # each call ran exactly once


async def test_redis_down_fails_every_call_and_hangs_none(served: Served, incr: PipelinedScript) -> None:
    await incr(["k"], [1])
    served.server.stop()
    try:
        results = await asyncio.gather(*(incr(["k"], [1]) for _ in range(5)), return_exceptions=True)
        assert all(isinstance(r, redis.exceptions.ConnectionError) for r in results)
    finally:
        served.server.start()


async def test_reconnects_after_redis_comes_back(served: Served, incr: PipelinedScript) -> None:
    await incr(["k"], [1])
    served.server.stop()
    served.server.start()
    assert await incr(["k2"], [4]) == 4


async def test_unanswered_calls_time_out(redis_url: str) -> None:
    server, port = await _silent_server()
    script = _script(f"redis://127.0.0.1:{port}/0", timeout_s=0.2)
    try:
        with pytest.raises(redis.exceptions.TimeoutError):
            await asyncio.wait_for(script(["k"], [1]), timeout=5)
    finally:
        await script.close()
        server.close()


async def test_an_unreadable_reply_fails_closed() -> None:
    server, port = await _silent_server(reply=b"?garbage\r\n")
    script = _script(f"redis://127.0.0.1:{port}/0")
    try:
        with pytest.raises(redis.exceptions.ConnectionError):
            await asyncio.wait_for(script(["k"], [1]), timeout=5)
    finally:
        await script.close()
        server.close()


async def test_nothing_listening_is_a_connection_error(redis_server) -> None:
    server, port = await _silent_server()
    server.close()
    await server.wait_closed()
    script = _script(f"redis://127.0.0.1:{port}/0")
    with pytest.raises(redis.exceptions.ConnectionError):
        await script(["k"], [1])


async def test_authenticates_and_selects_the_database(redis_server, client: redis.asyncio.Redis) -> None:
    await client.execute_command("ACL", "SETUSER", "pipe-test", "on", ">s3cret", "~*", "+@all")
    url = f"redis://pipe-test:s3cret@127.0.0.1:{redis_server.port}/3"
    script = _script(url)
    try:
        assert await script(["in-db-3"], [1]) == 1
        other_db = redis.asyncio.Redis.from_url(url)
        assert await other_db.get("in-db-3") == b"1"
        await other_db.aclose()
        assert await client.get("in-db-3") is None
    finally:
        await script.close()
        await client.execute_command("ACL", "DELUSER", "pipe-test")


async def test_a_wrong_password_is_an_authentication_error(redis_server, client: redis.asyncio.Redis) -> None:
    await client.execute_command("ACL", "SETUSER", "pipe-test", "on", ">s3cret", "~*", "+@all")
    script = _script(f"redis://pipe-test:wrong@127.0.0.1:{redis_server.port}/0")
    try:
        with pytest.raises(redis.exceptions.AuthenticationError):
            await script(["k"], [1])
    finally:
        await client.execute_command("ACL", "DELUSER", "pipe-test")


async def test_tls_urls_use_the_pipelined_connection(tls_redis_url: str) -> None:
    script = _script(tls_redis_url)  # the server has no plain-text port: an answer came over TLS
    try:
        assert await script(["k"], [1]) == 1
    finally:
        await script.close()


async def test_plain_urls_use_the_pipelined_connection(redis_url: str) -> None:
    script = _script(redis_url)
    try:
        assert await script(["k"], [1]) == 1
    finally:
        await script.close()


async def test_close_fails_a_call_in_flight_and_opens_nothing_new() -> None:
    server, port = await _silent_server()
    script = _script(f"redis://127.0.0.1:{port}/0", timeout_s=0.2)
    try:
        call = asyncio.ensure_future(script(["k"], [1]))
        await asyncio.sleep(0.05)  # written, unanswered
        await script.close()
        with pytest.raises(redis.exceptions.ConnectionError):
            await asyncio.wait_for(call, timeout=5)
        with pytest.raises(redis.exceptions.ConnectionError):
            await script(["k"], [1])
    finally:
        server.close()


async def test_close_while_connecting_is_a_connection_error_for_the_waiting_call() -> None:
    server, port = await _silent_server()  # never answers AUTH
    script = _script(f"redis://user:pw@127.0.0.1:{port}/0")
    try:
        call = asyncio.ensure_future(script(["k"], [1]))
        await asyncio.sleep(0.05)
        await script.close()
        with pytest.raises(redis.exceptions.ConnectionError):
            await asyncio.wait_for(call, timeout=5)
    finally:
        server.close()


async def test_a_wrong_password_is_not_tried_twice(redis_server, client: redis.asyncio.Redis) -> None:
    await client.execute_command("ACL", "SETUSER", "pipe-test", "on", ">s3cret", "~*", "+@all")
    script = _script(f"redis://pipe-test:wrong@127.0.0.1:{redis_server.port}/0")
    try:
        before = (await client.info("stats"))["total_connections_received"]
        with pytest.raises(redis.exceptions.AuthenticationError):
            await script(["k"], [1])
        assert (await client.info("stats"))["total_connections_received"] - before == 1
    finally:
        await client.execute_command("ACL", "DELUSER", "pipe-test")


async def test_a_database_redis_does_not_have_is_a_connection_error(redis_server) -> None:
    script = _script(f"redis://127.0.0.1:{redis_server.port}/999")
    with pytest.raises(redis.exceptions.ConnectionError) as raised:
        await script(["k"], [1])
    assert not isinstance(raised.value, redis.exceptions.AuthenticationError)


def test_a_unix_url_without_a_path_is_refused() -> None:
    with pytest.raises(ValueError):
        _script("unix://")


# --- what only TLS has ------------------------------------------------------------


@pytest.mark.parametrize(("query", "verify_mode", "check_hostname"), [
    ("", ssl.CERT_REQUIRED, True),  # redis-py's defaults: certificate and host name verified
    ("?ssl_check_hostname=false", ssl.CERT_REQUIRED, False),
    ("?ssl_cert_reqs=optional", ssl.CERT_OPTIONAL, True),
    ("?ssl_cert_reqs=none", ssl.CERT_NONE, False),
])
def test_tls_options_are_read_as_redis_py_reads_them(query: str, verify_mode: ssl.VerifyMode,
                                                     check_hostname: bool) -> None:
    context = tls_context(parse_url(f"rediss://redis.example:6380/0{query}"))
    assert (context.verify_mode, context.check_hostname) == (verify_mode, check_hostname)


def test_an_unknown_tls_option_is_refused() -> None:
    with pytest.raises(ValueError):
        _script("rediss://redis.example:6380/0?ssl_verify_everything=yes")


def test_an_unreadable_ca_file_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError):
        _script(f"rediss://redis.example:6380/0?ssl_ca_certs={tmp_path / 'missing.pem'}")


async def _refused(url: str, tls_redis_url: str) -> redis.exceptions.ConnectionError:
    """The error of one call on ``url``, after checking that the call changed nothing."""
    script = _script(url)
    try:
        with pytest.raises(redis.exceptions.ConnectionError) as raised:
            await asyncio.wait_for(script(["k"], [1]), timeout=10)
    finally:
        await script.close()
    client = redis.asyncio.Redis.from_url(tls_redis_url)
    try:
        assert await client.get("k") is None
    finally:
        await client.aclose()
    return raised.value


async def test_a_server_certificate_of_another_ca_fails_closed(tls_redis_server: TlsRedis,
                                                               tls_redis_url: str) -> None:
    error = await _refused(tls_redis_server.url(ca="other-ca.pem"), tls_redis_url)
    assert "certificate" in str(error)


async def test_a_host_name_not_in_the_certificate_fails_closed(tls_redis_server: TlsRedis,
                                                               tls_redis_url: str) -> None:
    error = await _refused(tls_redis_server.url(host="127.0.0.1"), tls_redis_url)  # certified: localhost
    assert "127.0.0.1" in str(error)


async def test_the_host_name_check_is_off_only_when_the_url_says_so(tls_redis_server: TlsRedis,
                                                                    tls_redis_url: str) -> None:
    script = _script(tls_redis_server.url(host="127.0.0.1", ssl_check_hostname="false"))
    try:
        assert await script(["k"], [1]) == 1
    finally:
        await script.close()


async def test_without_the_client_certificate_redis_refuses(tls_redis_server: TlsRedis, tls_redis_url: str) -> None:
    await _refused(tls_redis_server.url(client_cert=False), tls_redis_url)


async def test_a_plain_text_server_on_a_tls_url_fails_closed(redis_server, redis_url: str) -> None:
    with pytest.raises(redis.exceptions.ConnectionError):
        script = _script(f"rediss://127.0.0.1:{redis_server.port}/0?ssl_cert_reqs=none")
        try:
            await asyncio.wait_for(script(["k"], [1]), timeout=10)
        finally:
            await script.close()
