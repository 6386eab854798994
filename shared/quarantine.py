"""Notifications whose signature failed, kept for operators in a capped, expiring stream.

Nothing here is ever enqueued for processing; ``events replay-rejected``
re-verifies each entry with the keys configured at that time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import redis
import redis.asyncio

from shared.keys import REJECTED_STREAM


@dataclass(frozen=True)
class RejectedNotification:
    entry_id: str
    body: bytes
    content_type: str
    reason: str
    received_at: float


def _trim_min_id(ttl_s: int) -> str:
    return f"{int((time.time() - ttl_s) * 1000)}-0"


class AsyncQuarantine:
    def __init__(self, client: redis.asyncio.Redis, max_len: int, ttl_s: int) -> None:
        self._client = client
        self._max_len = max_len
        self._ttl_s = ttl_s

    async def add(self, body: bytes, content_type: str, reason: str, received_at: float) -> None:
        fields = {"body": body, "content_type": content_type, "reason": reason, "received_at": repr(received_at)}
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.xadd(REJECTED_STREAM, fields, maxlen=self._max_len, approximate=True)
            pipe.xtrim(REJECTED_STREAM, minid=_trim_min_id(self._ttl_s), approximate=True)
            pipe.expire(REJECTED_STREAM, self._ttl_s)
            await pipe.execute()


def _entry(entry_id: bytes | str, fields: dict[bytes, bytes]) -> RejectedNotification:
    return RejectedNotification(
        entry_id=entry_id.decode() if isinstance(entry_id, bytes) else entry_id,
        body=fields.get(b"body", b""),
        content_type=fields.get(b"content_type", b"").decode(),
        reason=fields.get(b"reason", b"").decode(),
        received_at=float(fields.get(b"received_at", b"0")),
    )


class Quarantine:
    """Blocking access for the CLI."""

    def __init__(self, client: redis.Redis, ttl_s: int) -> None:
        self._client = client
        self._ttl_s = ttl_s

    def entries(self, batch: int = 500) -> Iterator[RejectedNotification]:
        start = _trim_min_id(self._ttl_s)
        while True:
            rows = self._client.xrange(REJECTED_STREAM, min=start, count=batch)
            if not rows:
                return
            for entry_id, fields in rows:
                yield _entry(entry_id, fields)
            last = rows[-1][0].decode()
            start = "(" + last

    def count(self) -> int:
        return int(self._client.xlen(REJECTED_STREAM))

    def remove(self, entry_id: str) -> None:
        self._client.xdel(REJECTED_STREAM, entry_id)
