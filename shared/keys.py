"""Every Redis key of this service's own, in one place (RQ's keys: :mod:`shared.jobs`)."""

from __future__ import annotations

RECOVERY_LOCK_KEY = "stripay:recovery:lock"        # at most one recovery pass per interval
RECOVERY_INTERMEDIATE_KEY = "stripay:recovery:intermediate"  # job id -> first seen only on the intermediate list
SEEN_PREFIX = "stripay:seen:"            # + notification identity; value: job id
REJECTED_STREAM = "stripay:rejected"     # quarantined notifications (bad signature)
TRANSITIONS_STREAM = "stripay:transitions"
ORDER_PREFIX = "stripay:order:"          # + order id; hash of the current state
HISTORY_PREFIX = "stripay:history:"      # + order id; list of transitions (JSON)
FETCH_SEQ_PREFIX = "stripay:fetchseq:"   # + order id; counts the API reads of the order begun (ties)
API_CACHE_PREFIX = "stripay:apicache:"   # + merchant id + ":" + order id; last API answer, for coalescing


def seen_key(identity: str) -> str:
    return SEEN_PREFIX + identity


def order_key(order_id: int) -> str:
    return f"{ORDER_PREFIX}{order_id}"


def history_key(order_id: int) -> str:
    return f"{HISTORY_PREFIX}{order_id}"


def api_cache_key(order_id: int, merchant_id: str | None = None) -> str:
    """Per merchant and order: an answer read with one merchant's key never stands in for another's."""
    return f"{API_CACHE_PREFIX}{merchant_id or ''}:{order_id}"


def fetch_seq_key(order_id: int) -> str:
    return f"{FETCH_SEQ_PREFIX}{order_id}"
