"""The apply script writes the API-answer cache entry in the apply's round trip, whatever the outcome."""

import json

import pytest

from shared.keys import fetch_seq_key
from shared.order import Order
from shared.order_store import AnswerCache, OrderStore
from tests.shared.test_order_store import api_order

CACHE = AnswerCache("stripay:apicache::1", 60_000)


def cached(redis_client) -> dict | None:
    raw = redis_client.get(CACHE.key)
    return None if raw is None else json.loads(raw)


def test_an_applied_answer_is_cached_with_its_read_number(redis_client) -> None:
    store = OrderStore(redis_client)
    seq = store.begin_fetch(1)
    assert store.apply(api_order(), "notify", fetch_seq=seq, cache=CACHE).outcome == "applied"
    assert cached(redis_client) == {"order": dict(api_order().fields), "seq": seq}
    assert 0 < redis_client.pttl(CACHE.key) <= CACHE.ttl_ms


@pytest.mark.parametrize("outcome", ["stale", "tie", "foreign", "unchanged"])
def test_an_answer_not_applied_is_cached_too(redis_client, outcome) -> None:
    store = OrderStore(redis_client)
    stored = Order.from_api({**dict(api_order(updated_at="2023-01-11T00:00:00.000Z").fields), "merchantId": 1})
    overlapping = store.begin_fetch(1)
    store.apply(stored, "notify", fetch_seq=store.begin_fetch(1))
    answer = {
        "stale": api_order(status="pending"),
        "tie": Order.from_api({**dict(stored.fields), "status": "refunded"}),
        "foreign": Order.from_api({**dict(stored.fields), "merchantId": 2}),
        "unchanged": stored,
    }[outcome]
    assert store.apply(answer, "notify", fetch_seq=overlapping, cache=CACHE).outcome == outcome
    assert cached(redis_client) == {"order": dict(answer.fields), "seq": overlapping}


def test_without_a_read_number_nothing_is_cached(redis_client) -> None:
    OrderStore(redis_client).apply(api_order(), "return", cache=CACHE)
    assert cached(redis_client) is None


def test_the_cache_is_read_and_the_read_numbered_in_one_call(redis_client) -> None:
    store = OrderStore(redis_client)
    assert store.read_cache_and_begin_fetch(1, CACHE.key) == (None, 1)
    store.apply(api_order(), "notify", fetch_seq=1, cache=CACHE)
    raw, seq = store.read_cache_and_begin_fetch(1, CACHE.key)
    assert (json.loads(raw)["seq"], seq) == (1, 2)
    assert store.begin_fetch(1) == 3
    assert 0 < redis_client.ttl(fetch_seq_key(1))
