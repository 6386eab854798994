import asyncio

import pytest
import redis.asyncio
import redis.exceptions

from shared.batched_script import BatchedScript

INCR_SCRIPT = "return redis.call('INCRBY', KEYS[1], ARGV[1])"


@pytest.fixture
async def client(redis_url: str):
    connection = redis.asyncio.Redis.from_url(redis_url)
    yield connection
    await connection.aclose()


async def test_concurrent_calls_each_get_their_own_reply(client) -> None:
    script = BatchedScript(client, INCR_SCRIPT)
    replies = await asyncio.gather(*(script([f"k{n}"], [n]) for n in range(50)))
    assert replies == list(range(50))


async def test_concurrent_calls_share_round_trips(client) -> None:
    script = BatchedScript(client, INCR_SCRIPT)
    await script(["warm"], [1])  # loads the script
    before = (await client.info("stats"))["total_connections_received"]
    await asyncio.gather(*(script([f"k{n}"], [1]) for n in range(50)))
    after = (await client.info("stats"))["total_connections_received"]
    assert after - before <= 1  # one pipeline on one connection, not 50 connections


async def test_an_error_fails_only_its_own_call(client) -> None:
    await client.set("a-string", "x")
    await client.hset("a-hash", "f", "v")
    script = BatchedScript(client, INCR_SCRIPT)
    results = await asyncio.gather(script(["ok"], [2]), script(["a-hash"], [1]), return_exceptions=True)
    assert results[0] == 2
    assert isinstance(results[1], redis.exceptions.ResponseError)


async def test_lost_script_cache_is_reloaded(client) -> None:
    script = BatchedScript(client, INCR_SCRIPT)
    await script(["k"], [1])
    await client.script_flush()
    assert await asyncio.gather(script(["k"], [1]), script(["k"], [1])) in ([2, 3], [3, 2])


async def test_redis_down_fails_every_call_and_hangs_none(redis_server, client) -> None:
    script = BatchedScript(client, INCR_SCRIPT)
    redis_server.stop()
    try:
        results = await asyncio.gather(*(script(["k"], [1]) for _ in range(5)), return_exceptions=True)
        assert all(isinstance(r, redis.exceptions.ConnectionError) for r in results)
    finally:
        redis_server.start()
