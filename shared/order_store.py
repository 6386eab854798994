"""Per-order state and transition history in Redis, changed only forwards.

:data:`APPLY_SCRIPT` (``apply_order.lua``) compares the candidate's ``updatedAt`` with the stored
one and writes state, history entry, the ``stripay:transitions`` stream entry
and (when downstream deliveries are configured) the delivery job in one
server-side step. Two workers racing on one order are serialised by Redis:
an ``updatedAt`` older than or equal to the stored one never overwrites it,
and each transition is appended once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from typing import Any

import redis
import redis.asyncio

from shared.keys import RQ_QUEUE_KEY, RQ_QUEUES_SET, TRANSITIONS_STREAM, history_key, order_key
from shared.order import Order

TRANSITIONS_MAX_LEN = 1_000_000

APPLY_SCRIPT = resources.files("shared").joinpath("apply_order.lua").read_text(encoding="utf-8")


@dataclass(frozen=True)
class ApplyResult:
    outcome: str  # applied | updated | unchanged | stale
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
    return f"{order.id}-{order.updated_ms}-{order.status}"


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def apply_call(
    order: Order, source: str, delivery_job: tuple[str, str, list[Any]] | None
) -> tuple[list[str], list[Any]]:
    """KEYS and ARGV of :data:`APPLY_SCRIPT` for storing ``order``."""
    job_key, job_id, job_fields = delivery_job if delivery_job else ("", "", [])
    keys = [order_key(order.id), history_key(order.id), TRANSITIONS_STREAM, job_key or "-", RQ_QUEUE_KEY,
            RQ_QUEUES_SET]
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
    ) -> ApplyResult:
        """Store ``order`` if it is newer than the stored state.

        ``delivery_job`` is (job key, job id, HSET field list) of an RQ job
        written with the transition, for downstream deliveries.
        """
        keys, args = apply_call(order, source, delivery_job)
        return apply_result(self._apply(keys=keys, args=args), order)

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
        self._apply = client.register_script(APPLY_SCRIPT)

    async def apply(
        self,
        order: Order,
        source: str,
        delivery_job: tuple[str, str, list[Any]] | None = None,
    ) -> ApplyResult:
        keys, args = apply_call(order, source, delivery_job)
        return apply_result(await self._apply(keys=keys, args=args), order)
