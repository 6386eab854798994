"""The order store: ids, timestamps that always move forward, listener calls, paging."""

import pytest

from simulator.orders import NewOrder, Order, OrderStore, UnknownStatus, iso_ms

T0_MS = 1673321993000  # 2023-01-10T03:39:53.000Z


class FrozenClock:
    def __init__(self, now_ms: int = T0_MS) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


def new_order(merchant_order_id: str = "m-1") -> NewOrder:
    return NewOrder(merchant_order_id, 1.99, "USD", "https://s.example/ok", "https://s.example/ko",
                    "https://r.example/notify", "buyer@example.com", "102.171.177.216")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def changes() -> list[Order]:
    return []


@pytest.fixture
def store(clock: FrozenClock, changes: list[Order]) -> OrderStore:
    return OrderStore(merchant_id=1, on_status_change=changes.append, clock_ms=clock)


def test_iso_format_has_milliseconds_and_z() -> None:
    assert iso_ms(T0_MS) == "2023-01-10T03:39:53.000Z"
    assert iso_ms(T0_MS + 7) == "2023-01-10T03:39:53.007Z"


def test_ids_count_from_one_and_restart_after_clear(store: OrderStore) -> None:
    assert [store.create(new_order()).id for _ in range(3)] == [1, 2, 3]
    store.clear()
    assert store.create(new_order()).id == 1


def test_new_order_is_pending_with_equal_timestamps(store: OrderStore) -> None:
    order = store.create(new_order()).to_api()
    assert order["status"] == "pending"
    assert order["createdAt"] == order["updatedAt"] == "2023-01-10T03:39:53.000Z"


def test_order_object_has_the_documented_fields(store: OrderStore) -> None:
    assert list(store.create(new_order()).to_api()) == [
        "id", "merchantId", "merchantOrderId", "amount", "currency", "successUrl", "failUrl", "email", "ip",
        "riskScore", "status", "statusNote", "is3ds", "createdAt", "updatedAt",
    ]


def test_updated_at_advances_one_ms_when_the_clock_stands_still(store: OrderStore) -> None:
    order_id = store.create(new_order()).id
    stamps = [store.set_status(order_id, status).updated_at_ms for status in ("completed", "disputed", "refunded")]
    assert stamps == [T0_MS + 1, T0_MS + 2, T0_MS + 3]


def test_updated_at_follows_the_clock_and_never_goes_back(store: OrderStore, clock: FrozenClock) -> None:
    order_id = store.create(new_order()).id
    clock.now_ms = T0_MS + 5000
    assert store.set_status(order_id, "completed").updated_at_ms == T0_MS + 5000
    clock.now_ms = T0_MS  # the wall clock stepped back
    assert store.set_status(order_id, "refunded").updated_at_ms == T0_MS + 5001


def test_every_status_change_reaches_the_listener(store: OrderStore, changes: list[Order]) -> None:
    order_id = store.create(new_order()).id
    store.set_status(order_id, "completed")
    store.set_status(order_id, "refunded")
    assert [(order.status, order.updated_at_ms) for order in changes] == [
        ("completed", T0_MS + 1), ("refunded", T0_MS + 2)
    ]


def test_same_status_and_note_is_a_no_op(store: OrderStore, changes: list[Order]) -> None:
    order_id = store.create(new_order()).id
    first = store.set_status(order_id, "completed")
    assert store.set_status(order_id, "completed") == first
    assert len(changes) == 1


def test_note_only_change_moves_updated_at_without_a_status_change(store: OrderStore, changes: list[Order]) -> None:
    order_id = store.create(new_order()).id
    store.set_status(order_id, "rejected", "declined")
    changed = store.set_status(order_id, "rejected", "declined twice")
    assert (changed.status_note, changed.updated_at_ms) == ("declined twice", T0_MS + 2)
    assert len(changes) == 1


def test_unknown_status_is_refused(store: OrderStore) -> None:
    order_id = store.create(new_order()).id
    with pytest.raises(UnknownStatus):
        store.set_status(order_id, "paid")


def test_paging_is_oldest_first(store: OrderStore) -> None:
    for _ in range(45):
        store.create(new_order())
    total, third_page = store.page(3, 20)
    assert total == 45
    assert [order.id for order in third_page] == [41, 42, 43, 44, 45]
    assert store.page(4, 20) == (45, [])


def test_merchant_order_id_lookup_finds_the_newest(store: OrderStore) -> None:
    store.create(new_order("m-1"))
    store.create(new_order("m-1"))
    found = store.by_merchant_order_id("m-1")
    assert found is not None and found.id == 2
    assert store.by_merchant_order_id("m-2") is None


def test_same_mode_keeps_updated_at_on_purpose(store: OrderStore, clock: FrozenClock) -> None:
    order_id = store.create(new_order()).id
    store.set_updated_at_mode("same")
    clock.now_ms = T0_MS + 2500
    stamps = [store.set_status(order_id, status).updated_at_ms for status in ("completed", "refunded")]
    assert stamps == [T0_MS, T0_MS]


def test_whole_seconds_mode_ties_changes_within_one_second(store: OrderStore, clock: FrozenClock) -> None:
    order_id = store.create(new_order()).id
    store.set_updated_at_mode("whole_seconds")
    clock.now_ms = T0_MS + 1200
    first = store.set_status(order_id, "completed").updated_at_ms
    clock.now_ms = T0_MS + 1900
    second = store.set_status(order_id, "refunded").updated_at_ms
    clock.now_ms = T0_MS + 2100
    third = store.set_status(order_id, "disputed").updated_at_ms
    assert (first, second, third) == (T0_MS + 1000, T0_MS + 1000, T0_MS + 2000)


def test_clear_restores_strictly_increasing_updated_at(store: OrderStore) -> None:
    store.set_updated_at_mode("same")
    store.clear()
    order_id = store.create(new_order()).id
    assert store.set_status(order_id, "completed").updated_at_ms == T0_MS + 1


def test_unknown_updated_at_mode_is_refused(store: OrderStore) -> None:
    with pytest.raises(ValueError, match="strict"):
        store.set_updated_at_mode("sometimes")


def test_orders_of_each_merchant_are_paged_apart_with_ids_counted_across(store: OrderStore) -> None:
    a = store.create(new_order())
    b = store.create(new_order(), merchant_id=2)
    assert (a.id, a.merchant_id, b.id, b.merchant_id) == (1, 1, 2, 2)
    assert store.page(1, 20, merchant_id=2) == (1, [b])
    assert store.by_merchant_order_id("m-1", merchant_id=1) == a
