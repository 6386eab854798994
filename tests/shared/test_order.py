"""The order's life at Stripay: which status can follow which (the same-second rule uses it)."""

import pytest

from shared.order import may_lead_to


@pytest.mark.parametrize(("earlier", "later"), [("pending", "completed"), ("completed", "refunded"),
                                                ("completed", "disputed"), ("disputed", "completed"),
                                                ("completed", "completed"), ("pending", "refunded")])
def test_a_status_that_can_lead_to_another(earlier: str, later: str) -> None:
    assert may_lead_to(earlier, later)


@pytest.mark.parametrize(("earlier", "later"), [("refunded", "completed"), ("rejected", "completed"),
                                                ("completed", "pending"), ("complete", "completed"),
                                                (None, "completed"), ("refunded", "refunded")])
def test_a_status_that_cannot(earlier: object, later: str) -> None:
    assert not may_lead_to(earlier, later)
