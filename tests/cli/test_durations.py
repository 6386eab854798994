"""DURATION values of --since."""

import pytest

from cli.durations import format_age, parse_duration


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("2h", 7200), ("7d", 604800),
                                               ("1w", 604800), ("1h30m", 5400), (" 2H ", 7200)])
def test_parses(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "m", "1.5h", "2 fortnights", "-1h", "0s", "1h 30x"])
def test_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (59.9, "59s"), (61, "1m1s"), (3600, "1h"),
                                               (90061, "1d1h")])
def test_formats_ages(seconds: float, text: str) -> None:
    assert format_age(seconds) == text
