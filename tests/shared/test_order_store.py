import threading

import redis

from shared.keys import TRANSITIONS_STREAM
from shared.order import Order
from shared.order_store import OrderStore


def api_order(order_id: int = 1, status: str = "completed", updated_at: str = "2023-01-10T03:43:37.000Z") -> Order:
    return Order.from_api({"id": order_id, "status": status, "updatedAt": updated_at, "amount": 1.99,
                           "currency": "USD", "merchantOrderId": f"m-{order_id}"})


def stream_events(client: redis.Redis) -> list[dict[bytes, bytes]]:
    return [fields for _, fields in client.xrange(TRANSITIONS_STREAM)]


def test_first_state_is_applied_and_published(redis_client) -> None:
    result = OrderStore(redis_client).apply(api_order(), "notify")
    assert (result.outcome, result.previous_status) == ("applied", None)
    events = stream_events(redis_client)
    assert len(events) == 1
    assert (events[0][b"to"], events[0][b"event_id"]) == (b"completed", result.event_id.encode())


def test_same_state_twice_changes_nothing(redis_client) -> None:
    store = OrderStore(redis_client)
    store.apply(api_order(), "notify")
    assert store.apply(api_order(), "notify").outcome == "unchanged"
    assert len(stream_events(redis_client)) == 1
    assert len(store.get(1).history) == 1


def test_older_state_never_overwrites_newer(redis_client) -> None:
    store = OrderStore(redis_client)
    store.apply(api_order(status="refunded", updated_at="2023-01-12T08:00:00.000Z"), "notify")
    result = store.apply(api_order(status="completed", updated_at="2023-01-10T03:43:37.000Z"), "notify")
    assert (result.outcome, result.previous_status) == ("stale", "refunded")
    assert store.get(1).status == "refunded"


def test_equal_timestamp_with_other_status_from_an_unnumbered_read_is_a_tie_and_changes_nothing(redis_client) -> None:
    # Two changes within one second of Stripay's clock: without knowing when each answer was read,
    # neither is known to be the later one, so the store keeps its state and says "tie" (never "stale").
    store = OrderStore(redis_client)
    store.apply(api_order(status="completed"), "notify")
    assert store.apply(api_order(status="disputed"), "notify").outcome == "tie"
    assert store.get(1).status == "completed"
    assert [h["to"] for h in store.get(1).history] == ["completed"]


def test_a_read_begun_after_the_stored_ones_ended_wins_a_same_second_tie(redis_client) -> None:
    store = OrderStore(redis_client)
    first = store.begin_fetch(1)
    store.apply(api_order(status="completed"), "notify", fetch_seq=first)
    later = store.begin_fetch(1)
    result = store.apply(api_order(status="refunded"), "notify", fetch_seq=later)
    assert (result.outcome, result.previous_status) == ("applied", "completed")
    assert [h["to"] for h in store.get(1).history] == ["completed", "refunded"]
    assert [e[b"to"] for e in stream_events(redis_client)] == [b"completed", b"refunded"]


def test_a_read_that_overlapped_the_stored_ones_is_a_tie(redis_client) -> None:
    # Read 1 began first but answered last: its answer may be the newer one, or the older one.
    store = OrderStore(redis_client)
    overlapping = store.begin_fetch(1)
    stored = store.begin_fetch(1)
    assert store.apply(api_order(status="completed"), "notify", fetch_seq=stored).outcome == "applied"
    assert store.apply(api_order(status="refunded"), "notify", fetch_seq=overlapping).outcome == "tie"
    assert store.get(1).status == "completed"


def test_same_status_at_the_same_second_is_unchanged_whatever_the_read_number(redis_client) -> None:
    store = OrderStore(redis_client)
    seq = store.begin_fetch(1)
    store.apply(api_order(status="completed"), "notify", fetch_seq=store.begin_fetch(1))
    assert store.apply(api_order(status="completed"), "notify", fetch_seq=seq).outcome == "unchanged"


def test_an_older_timestamp_stays_stale_even_from_a_later_read(redis_client) -> None:
    store = OrderStore(redis_client)
    store.apply(api_order(status="refunded", updated_at="2023-01-10T03:43:38.000Z"), "notify")
    result = store.apply(api_order(status="completed"), "notify", fetch_seq=store.begin_fetch(1))
    assert result.outcome == "stale"


def test_a_restarted_read_counter_counts_the_stored_reads_as_long_ended(redis_client) -> None:
    store = OrderStore(redis_client)
    for _ in range(3):
        store.begin_fetch(1)
    store.apply(api_order(status="completed"), "notify", fetch_seq=3)
    redis_client.delete("stripay:fetchseq:1")  # expired after a long quiet time
    assert store.apply(api_order(status="refunded"), "notify", fetch_seq=store.begin_fetch(1)).outcome == "applied"


def test_a_state_naming_another_merchant_is_refused(redis_client) -> None:
    store = OrderStore(redis_client)
    mine = Order.from_api({**dict(api_order().fields), "merchantId": 1})
    theirs = Order.from_api({**dict(api_order(status="refunded", updated_at="2023-01-11T00:00:00.000Z").fields),
                             "merchantId": 2})
    store.apply(mine, "notify")
    assert store.apply(theirs, "notify").outcome == "foreign"
    assert store.get(1).status == "completed"


def test_newer_state_records_transition_in_history(redis_client) -> None:
    store = OrderStore(redis_client)
    store.apply(api_order(status="completed"), "notify")
    store.apply(api_order(status="refunded", updated_at="2023-01-12T08:00:00.000Z"), "sweep")
    history = store.get(1).history
    assert [(h["from"], h["to"], h["source"]) for h in history] == [(None, "completed", "notify"),
                                                                 ("completed", "refunded", "sweep")]
    assert history[1]["at"] == "2023-01-12T08:00:00.000Z"


def test_racing_writers_apply_each_transition_once_and_end_on_newest(redis_url) -> None:
    states = [api_order(status=s, updated_at=f"2023-01-10T03:43:{i:02d}.000Z")
              for i, s in enumerate(["pending", "completed", "disputed", "refunded"] * 5)]
    barrier = threading.Barrier(8)

    def writer(seed: int) -> None:
        client = redis.Redis.from_url(redis_url)
        store = OrderStore(client)
        barrier.wait()
        for state in states[seed % 3:] + states:  # different orders of the same states
            store.apply(state, "notify")
        client.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client = redis.Redis.from_url(redis_url)
    final = OrderStore(client).get(1)
    assert final.updated_at == states[-1].updated_at and final.status == "refunded"
    event_ids = [e[b"event_id"] for e in stream_events(client)]
    assert len(event_ids) == len(set(event_ids))
    timestamps = [h["at"] for h in final.history]
    assert timestamps == sorted(timestamps)
    client.close()


async def test_async_store_applies_forwards_only_like_the_blocking_one(redis_client, redis_url) -> None:
    import redis.asyncio

    from shared.order_store import AsyncOrderStore

    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        store = AsyncOrderStore(client)
        first = await store.apply(api_order(status="refunded", updated_at="2023-01-12T08:00:00.000Z"), "return")
        again = await store.apply(api_order(status="refunded", updated_at="2023-01-12T08:00:00.000Z"), "return")
        older = await store.apply(api_order(status="completed"), "return")
    finally:
        await client.aclose()
    assert [(r.outcome, r.previous_status) for r in (first, again, older)] == [
        ("applied", None), ("unchanged", "refunded"), ("stale", "refunded")]
    stored = OrderStore(redis_client).get(1)
    assert (stored.status, stored.source, len(stored.history)) == ("refunded", "return", 1)
    assert len(stream_events(redis_client)) == 1
