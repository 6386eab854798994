"""Notifications whose signature failed, kept for operators in a bounded, expiring stream.

Nothing here is ever enqueued for processing; ``events replay-rejected``
re-verifies each entry kept whole with the keys configured at that time.

The stream is bounded three ways, so forged traffic cannot fill Redis:

- an entry keeps at most the first :data:`HEAD_BYTES` of the body, with the
  body's length and sha256 (enough to recognise a real notification; bodies
  up to :data:`HEAD_BYTES` are kept whole and can be replayed);
- the stream keeps at most ``min(max_len, max_bytes // ENTRY_BYTES_BOUND)``
  entries, the oldest trimmed first, and nothing older than ``ttl_s``;
- each receiver process writes at most ``writes_per_s`` entries a second
  (every write costs an fsync under ``appendfsync always``); the rest are
  answered 403 as usual but not kept.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

import redis
import redis.asyncio

from shared.keys import REJECTED_STREAM

HEAD_BYTES = 2048
CONTENT_TYPE_CHARS = 100
REASON_CHARS = 200
# The most one entry takes in Redis: the head, the other fields (cut to the sizes
# above) and the stream's per-entry overhead; measured at about 3.1 KB with
# MEMORY USAGE on a stream of 2 KiB heads.
ENTRY_BYTES_BOUND = 3584


@dataclass(frozen=True)
class RejectedNotification:
    entry_id: str
    body: bytes  # the whole body, or its first HEAD_BYTES when ``complete`` is False
    content_type: str
    reason: str
    received_at: float
    length: int  # of the body as received
    sha256: str  # hex digest of the body as received

    @property
    def complete(self) -> bool:
        return len(self.body) == self.length


def max_entries(max_len: int, max_bytes: int) -> int:
    """The entry cap that keeps the stream within both the count cap and the byte budget."""
    return max(1, min(max_len, max_bytes // ENTRY_BYTES_BOUND))


def entry_fields(body: bytes, content_type: str, reason: str, received_at: float) -> dict[str, bytes | str]:
    """What one stream entry keeps of a rejected body: at most HEAD_BYTES of it."""
    return {
        "body": body[:HEAD_BYTES],
        "length": str(len(body)),
        "sha256": hashlib.sha256(body).hexdigest(),
        "content_type": content_type[:CONTENT_TYPE_CHARS],
        "reason": reason[:REASON_CHARS],
        "received_at": repr(received_at),
    }


class WriteBudget:
    """At most ``per_s`` writes a second on average, bursts up to ``per_s`` (a token bucket)."""

    def __init__(self, per_s: float) -> None:
        self._per_s = per_s
        self._tokens = per_s
        self._at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._per_s, self._tokens + (now - self._at) * self._per_s)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


def _trim_min_id(ttl_s: int) -> str:
    return f"{int((time.time() - ttl_s) * 1000)}-0"


class AsyncQuarantine:
    def __init__(self, client: redis.asyncio.Redis, max_len: int, ttl_s: int, max_bytes: int = 16 * 1024 * 1024,
                 writes_per_s: float = 50.0) -> None:
        self._client = client
        self._max_entries = max_entries(max_len, max_bytes)
        self._ttl_s = ttl_s
        self._budget = WriteBudget(writes_per_s)

    async def add(self, body: bytes, content_type: str, reason: str, received_at: float) -> bool:
        """Keep the rejected body (its head); False when this second's write budget is spent."""
        if not self._budget.take():
            return False
        fields = entry_fields(body, content_type, reason, received_at)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.xadd(REJECTED_STREAM, fields, maxlen=self._max_entries, approximate=True)  # type: ignore[arg-type]
            pipe.xtrim(REJECTED_STREAM, minid=_trim_min_id(self._ttl_s), approximate=True)
            pipe.expire(REJECTED_STREAM, self._ttl_s)
            await pipe.execute()
        return True


def _entry(entry_id: bytes | str, fields: dict[bytes, bytes]) -> RejectedNotification:
    body = fields.get(b"body", b"")
    return RejectedNotification(
        entry_id=entry_id.decode() if isinstance(entry_id, bytes) else entry_id,
        body=body,
        content_type=fields.get(b"content_type", b"").decode(),
        reason=fields.get(b"reason", b"").decode(),
        received_at=float(fields.get(b"received_at", b"0")),
        # Entries written before heads were kept have the whole body and no length.
        length=int(fields.get(b"length", str(len(body)).encode())),
        sha256=fields.get(b"sha256", b"").decode() or hashlib.sha256(body).hexdigest(),
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
