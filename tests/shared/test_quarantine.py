import hashlib
import os

import pytest
import redis
import redis.asyncio

from shared.keys import REJECTED_STREAM
from shared.quarantine import ENTRY_BYTES_BOUND, HEAD_BYTES, AsyncQuarantine, Quarantine
from shared.settings import Settings

REDIS_GROWTH_GOAL_BYTES = 25_000_000


async def test_quarantine_is_capped_and_expires(redis_url, redis_client) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    quarantine = AsyncQuarantine(client, max_len=10, ttl_s=3600, writes_per_s=1e9)
    for n in range(500):
        await quarantine.add(b'{"id": %d}' % n, "application/json", "signature does not match", 1.0)
    await client.aclose()
    # Approximate trimming drops whole stream nodes (100 entries each), never below the cap.
    assert 10 <= redis_client.xlen(REJECTED_STREAM) <= 110
    assert 0 < redis_client.ttl(REJECTED_STREAM) <= 3600


async def test_entries_keep_body_reason_and_receive_time(redis_url, redis_client) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    await AsyncQuarantine(client, max_len=10, ttl_s=3600).add(b'{"id": 1}', "application/json", "bad", 12.5)
    await client.aclose()
    [entry] = list(Quarantine(redis_client, ttl_s=3600).entries())
    assert (entry.body, entry.content_type, entry.reason, entry.received_at) == (
        b'{"id": 1}', "application/json", "bad", 12.5)
    assert (entry.length, entry.sha256, entry.complete) == (9, hashlib.sha256(b'{"id": 1}').hexdigest(), True)


async def test_a_long_body_keeps_its_head_length_and_sha256(redis_url, redis_client) -> None:
    body = os.urandom(HEAD_BYTES * 3)
    client = redis.asyncio.Redis.from_url(redis_url)
    await AsyncQuarantine(client, max_len=10, ttl_s=3600).add(body, "application/json", "bad", 1.0)
    await client.aclose()
    [entry] = list(Quarantine(redis_client, ttl_s=3600).entries())
    assert (entry.body, entry.length, entry.sha256, entry.complete) == (
        body[:HEAD_BYTES], len(body), hashlib.sha256(body).hexdigest(), False)


async def test_a_body_of_exactly_the_head_size_is_kept_whole(redis_url, redis_client) -> None:
    body = b"x" * HEAD_BYTES
    client = redis.asyncio.Redis.from_url(redis_url)
    await AsyncQuarantine(client, max_len=10, ttl_s=3600).add(body, "application/json", "bad", 1.0)
    await client.aclose()
    [entry] = list(Quarantine(redis_client, ttl_s=3600).entries())
    assert entry.complete and entry.body == body


async def test_a_huge_content_type_is_cut(redis_url, redis_client) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    await AsyncQuarantine(client, max_len=10, ttl_s=3600).add(b"{}", "x" * 8000, "bad", 1.0)
    await client.aclose()
    [entry] = list(Quarantine(redis_client, ttl_s=3600).entries())
    assert len(entry.content_type) <= 100


async def test_the_stream_stays_within_its_byte_budget(redis_url, redis_client) -> None:
    budget_bytes = 40 * ENTRY_BYTES_BOUND
    client = redis.asyncio.Redis.from_url(redis_url)
    quarantine = AsyncQuarantine(client, max_len=10_000, ttl_s=3600, max_bytes=budget_bytes, writes_per_s=1e9)
    for _ in range(400):
        await quarantine.add(os.urandom(65536), "application/json", "signature does not match", 1.0)
    await client.aclose()
    assert redis_client.memory_usage(REJECTED_STREAM, samples=0) <= budget_bytes
    assert redis_client.xlen(REJECTED_STREAM) >= 40


async def test_writes_beyond_the_budget_per_second_are_not_kept(redis_url, redis_client) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    quarantine = AsyncQuarantine(client, max_len=10_000, ttl_s=3600, writes_per_s=5)
    kept = [await quarantine.add(b"{}", "application/json", "bad", 1.0) for _ in range(50)]
    await client.aclose()
    # A burst of at most one second's budget (plus what accrues while the loop runs).
    assert 5 <= kept.count(True) <= 7
    assert redis_client.xlen(REJECTED_STREAM) == kept.count(True)


@pytest.mark.slow  # 10,000 writes, each fsynced (appendfsync always)
async def test_ten_thousand_forged_bodies_grow_redis_by_less_than_25_mb(redis_url, redis_client) -> None:
    """With the default limits and no write budget, whatever the body size (64 KiB here, 8x the default limit)."""
    defaults = Settings(merchant_keys=("k",))
    client = redis.asyncio.Redis.from_url(redis_url)
    quarantine = AsyncQuarantine(client, defaults.quarantine_max_len, defaults.quarantine_ttl_s,
                                 defaults.quarantine_max_bytes, writes_per_s=1e9)
    body = bytearray(os.urandom(65536))
    before = redis_client.info("memory")["used_memory"]
    for n in range(10_000):
        body[:8] = n.to_bytes(8, "big")
        await quarantine.add(bytes(body), "application/json", "signature does not match", 1.0)
    await client.aclose()
    assert redis_client.info("memory")["used_memory"] - before < REDIS_GROWTH_GOAL_BYTES
