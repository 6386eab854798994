"""The simulator's configuration: one frozen object, built by the CLI or a test."""

from __future__ import annotations

from dataclasses import dataclass, field

# Stripay tries a notification 5 times: immediately, then 10 min, 30 min,
# 60 min and one day after the previous attempt.
STRIPAY_RETRY_DELAYS_S: tuple[float, ...] = (0.0, 600.0, 1800.0, 3600.0, 86400.0)
DEFAULT_PORT = 12111


def first_key(raw: str) -> str:
    """The first key of a comma-separated list (``STRIPAY_MERCHANT_KEY`` allows rotation lists)."""
    for part in raw.split(","):
        if part.strip():
            return part.strip()
    return ""


@dataclass(frozen=True)
class SimulatorConfig:
    """What one simulator instance accepts, signs with and how fast its clock of retries runs.

    ``time_scale`` compresses the retry schedule (1000 means 1000x faster) and
    the per-attempt delivery timeout, which never drops below
    ``min_delivery_timeout_s`` so a real receiver still has time to answer.
    """

    merchant_key: str = field(repr=False)
    merchant_id: int = 1
    # Further merchants as (merchantId, key): each sees and is notified about its own orders only.
    other_merchants: tuple[tuple[int, str], ...] = field(default=(), repr=False)
    time_scale: float = 1.0
    retry_delays_s: tuple[float, ...] = STRIPAY_RETRY_DELAYS_S
    delivery_timeout_s: float = 10.0
    min_delivery_timeout_s: float = 1.0
    random_seed: int = 0
    max_log_entries: int = 10_000

    def __post_init__(self) -> None:
        if not self.merchant_key:
            raise ValueError("merchant_key must not be empty")
        if not self.time_scale > 0:
            raise ValueError(f"time_scale must be > 0, got {self.time_scale!r}")
        if not self.retry_delays_s or any(delay_s < 0 for delay_s in self.retry_delays_s):
            raise ValueError("retry_delays_s must be non-empty and not negative")
        if self.max_log_entries < 1:
            raise ValueError("max_log_entries must be >= 1")
        ids = [merchant_id for merchant_id, _ in self.merchants]
        if len(set(ids)) != len(ids):
            raise ValueError("merchant ids must be distinct")
        if any(not key for _, key in self.other_merchants):
            raise ValueError("every merchant needs a key")

    @property
    def merchants(self) -> tuple[tuple[int, str], ...]:
        """(merchantId, key) of every merchant, the first one first."""
        return ((self.merchant_id, self.merchant_key), *self.other_merchants)

    def key_of(self, merchant_id: int) -> str:
        """The key a merchant's notifications are signed with."""
        return dict(self.merchants)[merchant_id]

    @property
    def scaled_retry_delays_s(self) -> tuple[float, ...]:
        """The delay before each attempt (after the previous one), in real seconds."""
        return tuple(delay_s / self.time_scale for delay_s in self.retry_delays_s)

    @property
    def attempt_timeout_s(self) -> float:
        """How long one delivery attempt may take, in real seconds."""
        return max(self.delivery_timeout_s / self.time_scale, self.min_delivery_timeout_s)
