"""Per-order state and transition history in Redis, changed only forwards.

:data:`APPLY_SCRIPT` (``apply_order.lua``) compares the candidate's ``updatedAt`` with the stored
one and writes state, history entry, the ``stripay:transitions`` stream entry
and (when downstream deliveries are configured) the delivery job in one
server-side step. Two workers racing on one order are serialised by Redis:
an older ``updatedAt`` never overwrites the stored one, and each transition is
appended once.

Same-second ties. Stripay's ``updatedAt`` has whole-second precision, so two
changes within one second (completed, then refunded) carry the same
``updatedAt``, and two answers at one ``updatedAt`` with different statuses
cannot be ordered by what they say. They can be ordered by when they were
read: every API read of an order first takes a number from the per-order
counter ``stripay:fetchseq:<id>`` (:meth:`OrderStore.begin_fetch`, ``INCR``
before the request is sent), and the script records, with each state it
stores, the counter's value at the moment of storing (``fetch_done``). A read
numbered above ``fetch_done`` began after the stored state's read had ended,
so Stripay (which answers with its current state) showed it a state at least
as new: at an equal ``updatedAt`` with another status it is the later change
and is applied. A read numbered at or below ``fetch_done`` overlapped the
stored one's, and either answer may be the newer (the read begun first may
have been answered last): the script answers ``tie`` and changes nothing, and
the caller reads the order again; that read begins after both ended, so its
answer settles it. A read without a number (the okPage's lookup by
merchantOrderId) that ties is handed to a reconcile job. Equal ``updatedAt``
and equal status is ``unchanged``. So a state is never replaced by one read
earlier, and the store ends on the API's current state. The counter expires
:data:`FETCH_SEQ_TTL_S` after the last read; if it restarted below a stored
``fetch_done``, every read counted since began long after that state's read
ended, so the stored ``fetch_done`` counts as 0.

An order belongs to one merchant: a state whose ``merchantId`` differs from
the stored one's is refused (``foreign``) and changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from typing import Any

import redis
import redis.asyncio

from shared.jobs import RQ_QUEUE_KEY, RQ_QUEUES_SET
from shared.jsvalue import js_string
from shared.keys import TRANSITIONS_STREAM, fetch_seq_key, history_key, order_key
from shared.order import Order

TRANSITIONS_MAX_LEN = 1_000_000
FETCH_SEQ_TTL_S = 30 * 86400  # far longer than any read of the API can take

APPLY_SCRIPT = resources.files("shared").joinpath("apply_order.lua").read_text(encoding="utf-8")


@dataclass(frozen=True)
class ApplyResult:
    outcome: str  # applied | updated | unchanged | stale | tie (read again) | foreign (another merchant's)
    previous_status: str | None
    event_id: str


@dataclass(frozen=True)
class StoredOrder:
    order_id: int
    status: str
    updated_at: str
    updated_ms: int
    source: str
    applied_at: str
    state: dict[str, Any]
    history: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.order_id,
            "status": self.status,
            "updatedAt": self.updated_at,
            "source": self.source,
            "appliedAt": self.applied_at,
            "order": self.state,
            "history": self.history,
        }


def event_id_for(order: Order) -> str:
    """Stable id of the transition to ``order``'s state (consumers drop repeats by it)."""
    return transition_id(order.id, order.updated_ms, order.status)


def transition_id(order_id: int, updated_ms: int, status: object) -> str:
    return f"{order_id}-{updated_ms}-{status}"


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class AnswerCache:
    """Where the apply script also writes the API's answer (``{"order": ..., "seq": ...}``), and for how long."""

    key: str
    ttl_ms: int


def apply_call(
    order: Order, source: str, delivery_job: tuple[str, str, list[Any]] | None, fetch_seq: int | None = None,
    cache: AnswerCache | None = None,
) -> tuple[list[str], list[Any]]:
    """KEYS and ARGV of :data:`APPLY_SCRIPT` for storing ``order`` (read by read number ``fetch_seq``)."""
    job_key, job_id, job_fields = delivery_job if delivery_job else ("", "", [])
    merchant = order.fields.get("merchantId")
    keys = [order_key(order.id), history_key(order.id), TRANSITIONS_STREAM, job_key or "-", RQ_QUEUE_KEY,
            RQ_QUEUES_SET, fetch_seq_key(order.id), cache.key if cache else "-"]
    args = [
        order.updated_ms,
        order.status,
        json.dumps(dict(order.fields), separators=(",", ":"), ensure_ascii=False),
        source,
        utc_now_iso(),
        event_id_for(order),
        order.id,
        order.updated_at,
        TRANSITIONS_MAX_LEN,
        "" if merchant is None else js_string(merchant),
        "" if fetch_seq is None else fetch_seq,
        cache.ttl_ms if cache else 0,
        job_id,
        *job_fields,
    ]
    return keys, args


def apply_result(reply: list[Any], order: Order) -> ApplyResult:
    outcome, previous = reply
    previous_status = previous.decode() if isinstance(previous, bytes) and previous else None
    return ApplyResult(outcome=outcome.decode(), previous_status=previous_status, event_id=event_id_for(order))


class OrderStore:
    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._apply = client.register_script(APPLY_SCRIPT)

    @property
    def client(self) -> redis.Redis:
        return self._client

    @property
    def apply_script_sha(self) -> str:
        return str(self._apply.sha)

    def load_scripts(self) -> None:
        """Load the apply script into Redis now rather than on the first apply."""
        self._client.script_load(APPLY_SCRIPT)

    def apply(
        self,
        order: Order,
        source: str,
        delivery_job: tuple[str, str, list[Any]] | None = None,
        fetch_seq: int | None = None,
        cache: AnswerCache | None = None,
    ) -> ApplyResult:
        """Store ``order`` if it is newer than the stored state.

        ``delivery_job`` is (job key, job id, HSET field list) of an RQ job
        written with the transition, for downstream deliveries. ``fetch_seq``
        is the number :meth:`begin_fetch` gave the API read that produced
        ``order``; without it a same-second tie is never resolved here (``tie``).
        With ``cache`` (and ``fetch_seq``) the script also writes the answer
        cache entry, whatever the outcome, in the same round trip.
        """
        keys, args = apply_call(order, source, delivery_job, fetch_seq, cache)
        return apply_result(self._apply(keys=keys, args=args), order)

    def begin_fetch(self, order_id: int) -> int:
        """Number the API read of ``order_id`` about to begin (call it before sending the request)."""
        return self.read_cache_and_begin_fetch(order_id, None)[1]

    def read_cache_and_begin_fetch(self, order_id: int, cache_key: str | None) -> tuple[bytes | None, int]:
        """The answer cache entry at ``cache_key`` (None without a key) and :meth:`begin_fetch`'s
        number, in one round trip. The number is taken whether or not the cached entry is then used:
        a number no read uses only makes a tie more likely, never orders two answers wrongly. No
        MULTI: a counter left without its expiry by a lost connection only lives longer."""
        with self._client.pipeline(transaction=False) as pipe:
            if cache_key is not None:
                pipe.get(cache_key)
            pipe.incr(fetch_seq_key(order_id))
            pipe.expire(fetch_seq_key(order_id), FETCH_SEQ_TTL_S)
            replies = pipe.execute()
        return (replies[0] if cache_key is not None else None), int(replies[-2])

    def get(self, order_id: int) -> StoredOrder | None:
        with self._client.pipeline(transaction=True) as pipe:
            pipe.hgetall(order_key(order_id))
            pipe.lrange(history_key(order_id), 0, -1)
            state, history = pipe.execute()
        if not state:
            return None
        return StoredOrder(
            order_id=order_id,
            status=state[b"status"].decode(),
            updated_at=state[b"updated_at"].decode(),
            updated_ms=int(state[b"updated_ms"]),
            source=state[b"source"].decode(),
            applied_at=state[b"applied_at"].decode(),
            state=json.loads(state[b"state"]),
            history=[json.loads(item) for item in history],
        )

    def history_entry(self, order_id: int, event_id: str) -> dict[str, Any] | None:
        for raw in self._client.lrange(history_key(order_id), 0, -1):
            entry = json.loads(raw)
            if entry.get("event_id") == event_id:
                return dict(entry)
        return None


class AsyncOrderStore:
    """The apply of :class:`OrderStore` for asyncio code (the receiver's okPage), on its async client."""

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self.client = client
        self._apply = client.register_script(APPLY_SCRIPT)

    async def state(self, order_id: int) -> dict[str, Any] | None:
        """The order as last applied (the API's fields), or None if nothing is stored."""
        raw = await self.client.hget(order_key(order_id), "state")
        return json.loads(raw) if raw else None

    async def apply(
        self,
        order: Order,
        source: str,
        delivery_job: tuple[str, str, list[Any]] | None = None,
    ) -> ApplyResult:
        keys, args = apply_call(order, source, delivery_job)
        return apply_result(await self._apply(keys=keys, args=args), order)
