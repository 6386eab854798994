"""Samples of this process's Prometheus registry, for tests that assert a change."""

from __future__ import annotations

from prometheus_client import REGISTRY


def sample(name: str, **labels: str) -> float:
    """The sample's value now; 0 when the series does not exist yet."""
    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


def samples(*series: tuple[str, dict[str, str]]) -> list[float]:
    return [sample(name, **labels) for name, labels in series]


def changes(before: list[float], after: list[float]) -> list[float]:
    return [b - a for a, b in zip(before, after, strict=True)]
