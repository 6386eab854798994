"""Test cards: the card number decides what a direct payment does."""

from __future__ import annotations

from dataclasses import dataclass

SUCCESS_CARD = "4242424242424242"
DECLINE_CARD = "4000000000000002"
THREE_DS_CARD = "4000000000003220"


@dataclass(frozen=True)
class CardOutcome:
    """``kind`` is ``success``, ``fail`` or ``3ds``; ``status_note`` explains a failure."""

    kind: str
    status_note: str | None = None


TEST_CARDS: dict[str, CardOutcome] = {
    SUCCESS_CARD: CardOutcome("success"),
    "5555555555554444": CardOutcome("success"),
    DECLINE_CARD: CardOutcome("fail", "Your card was declined."),
    "4000000000009995": CardOutcome("fail", "Your card has insufficient funds."),
    "4000000000000069": CardOutcome("fail", "Your card has expired."),
    "4000000000000127": CardOutcome("fail", "Your card's security code is incorrect."),
    THREE_DS_CARD: CardOutcome("3ds"),
    "4000002500003155": CardOutcome("3ds"),
}

NOT_A_TEST_CARD = CardOutcome("fail", "Your card was declined: not a test card (use 4242424242424242).")


def card_outcome(card_number: str, force3ds: bool) -> CardOutcome:
    """What paying with ``card_number`` does; ``force3ds`` sends a chargeable card through 3DS."""
    outcome = TEST_CARDS.get(card_number, NOT_A_TEST_CARD)
    if force3ds and outcome.kind == "success":
        return CardOutcome("3ds")
    return outcome
