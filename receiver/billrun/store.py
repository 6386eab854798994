"""What the BillRun endpoints keep in Redis, all of it bounded in size and time.

- ``stripay:billrun:{txId}``: one hash per txId, kept for :data:`RECORD_TTL_S`: the caller's ok
  and fail pages, its account id, the amount and currency asked for, and (once known) the
  Stripay order id. Only an authenticated getRequest creates one, and only if the txId is new;
  a field is added only to a record that still exists (each in one script call).
- ``stripay:billrun:sig:{_sig_}``: a getRequest signature already accepted, kept while its
  ``_t_`` is within the tolerance, so the same signed request is refused a second time.
- ``stripay:billrun:lookup:{txId}``: okPage asked Stripay about this txId less than
  ``BILLRUN_LOOKUP_INTERVAL_S`` ago; until it expires okPage answers from the stored state.
- ``stripay:billrun:requeue:{txId}``: a reconcile job was enqueued for this txId less than
  :data:`REQUEUE_GUARD_S` ago.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from importlib import resources

import redis.asyncio

BILLRUN_PREFIX = "stripay:billrun:"
REQUEUE_PREFIX = "stripay:billrun:requeue:"
SIGNATURE_PREFIX = "stripay:billrun:sig:"
LOOKUP_PREFIX = "stripay:billrun:lookup:"
RECORD_TTL_S = 7 * 86400
REQUEUE_GUARD_S = 30  # at most one reconcile job per txId per this many seconds

_SCRIPTS = resources.files(__package__)
CREATE_SCRIPT = _SCRIPTS.joinpath("create_record.lua").read_text(encoding="utf-8")
UPDATE_SCRIPT = _SCRIPTS.joinpath("update_record.lua").read_text(encoding="utf-8")


def record_key(tx_id: str) -> str:
    return BILLRUN_PREFIX + tx_id


def requeue_key(tx_id: str) -> str:
    return REQUEUE_PREFIX + tx_id


def signature_key(signature: str) -> str:
    return SIGNATURE_PREFIX + signature


def lookup_key(tx_id: str) -> str:
    return LOOKUP_PREFIX + tx_id


@dataclass(frozen=True)
class TxRecord:
    tx_id: str
    ok_page: str
    fail_page: str
    aid: str | None
    amount: int | float
    currency: str | None
    created_at: float
    order_id: int | None = None

    def fields(self) -> dict[str, str]:
        fields = {
            "ok_page": self.ok_page,
            "fail_page": self.fail_page,
            "amount": json.dumps(self.amount),
            "created_at": repr(self.created_at),
        }
        if self.aid is not None:
            fields["aid"] = self.aid
        if self.currency is not None:
            fields["currency"] = self.currency
        if self.order_id is not None:
            fields["order_id"] = str(self.order_id)
        return fields

    @classmethod
    def from_fields(cls, tx_id: str, raw: dict[bytes, bytes]) -> "TxRecord":
        fields = {name.decode(): value.decode() for name, value in raw.items()}
        order_id = fields.get("order_id")
        return cls(
            tx_id=tx_id,
            ok_page=fields["ok_page"],
            fail_page=fields["fail_page"],
            aid=fields.get("aid"),
            amount=json.loads(fields["amount"]),
            currency=fields.get("currency"),
            created_at=float(fields.get("created_at", "0")),
            order_id=int(order_id) if order_id and order_id.isdigit() else None,
        )


class BillrunStore:
    def __init__(self, client: redis.asyncio.Redis, ttl_s: int = RECORD_TTL_S) -> None:
        self._client = client
        self._ttl_s = ttl_s
        self._create = client.register_script(CREATE_SCRIPT)
        self._update = client.register_script(UPDATE_SCRIPT)

    async def create(self, record: TxRecord) -> bool:
        """Remember ``record``; False (and nothing written) when its txId is already taken."""
        args: list[str | int] = [self._ttl_s]
        for name, value in record.fields().items():
            args.extend((name, value))
        return int(await self._create(keys=[record_key(record.tx_id)], args=args)) == 1

    async def get(self, tx_id: str) -> TxRecord | None:
        raw = await self._client.hgetall(record_key(tx_id))
        if not raw:
            return None
        try:
            return TxRecord.from_fields(tx_id, raw)
        except (KeyError, ValueError):
            return None

    async def set_order_id(self, tx_id: str, order_id: int) -> bool:
        """Add the Stripay order id to a record that still exists."""
        return int(await self._update(keys=[record_key(tx_id)], args=["order_id", str(order_id)])) == 1

    async def claim_requeue(self, tx_id: str) -> bool:
        """True for the first caller in :data:`REQUEUE_GUARD_S` seconds: that one enqueues the reconcile job."""
        return bool(await self._client.set(requeue_key(tx_id), str(time.time()), nx=True, ex=REQUEUE_GUARD_S))

    async def claim_signature(self, signature: str, valid_for_s: float) -> bool:
        """True the first time ``signature`` is presented; it is remembered (atomically, ``SET NX``)
        for ``valid_for_s``, as long as its ``_t_`` would still be accepted."""
        ttl_s = max(1, math.ceil(valid_for_s))
        return bool(await self._client.set(signature_key(signature), "1", nx=True, ex=ttl_s))

    async def claim_lookup(self, tx_id: str, interval_s: float) -> bool:
        """True if okPage may ask Stripay about ``tx_id`` now (at most once per ``interval_s``)."""
        interval_ms = max(1, math.ceil(interval_s * 1000))
        return bool(await self._client.set(lookup_key(tx_id), "1", nx=True, px=interval_ms))
