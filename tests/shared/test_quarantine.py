import redis.asyncio

from shared.keys import REJECTED_STREAM
from shared.quarantine import AsyncQuarantine, Quarantine


async def test_quarantine_is_capped_and_expires(redis_url, redis_client) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    quarantine = AsyncQuarantine(client, max_len=10, ttl_s=3600)
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
