"""Configuration: the scaled retry schedule and delivery timeout, the merchant key list."""

import pytest

from simulator.config import STRIPAY_RETRY_DELAYS_S, SimulatorConfig, first_key
from simulator.notifier import NotifyMode, is_acknowledged, parse_notify_mode
from simulator.validation import ValidationError


def test_stripay_schedule_is_five_attempts() -> None:
    assert STRIPAY_RETRY_DELAYS_S == (0.0, 600.0, 1800.0, 3600.0, 86400.0)


def test_time_scale_compresses_the_schedule() -> None:
    config = SimulatorConfig(merchant_key="k", time_scale=1000)
    assert config.scaled_retry_delays_s == (0.0, 0.6, 1.8, 3.6, 86.4)


def test_attempt_timeout_is_scaled_but_floored() -> None:
    assert SimulatorConfig(merchant_key="k").attempt_timeout_s == 10.0
    assert SimulatorConfig(merchant_key="k", time_scale=4).attempt_timeout_s == 2.5
    assert SimulatorConfig(merchant_key="k", time_scale=1000).attempt_timeout_s == 1.0


@pytest.mark.parametrize("time_scale", [0, -2])
def test_time_scale_must_be_positive(time_scale: float) -> None:
    with pytest.raises(ValueError, match="time_scale"):
        SimulatorConfig(merchant_key="k", time_scale=time_scale)


def test_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="merchant_key"):
        SimulatorConfig(merchant_key="")


@pytest.mark.parametrize(("raw", "key"), [("current,previous", "current"), (" , k2 ", "k2"), ("", "")])
def test_first_key_of_a_rotation_list(raw: str, key: str) -> None:
    assert first_key(raw) == key


@pytest.mark.parametrize(
    ("http_status", "body", "acknowledged"),
    [(200, "OK", True), (204, "OK", True), (200, "ok", False), (200, "OK\n", False), (200, "", False),
     (500, "OK", False), (302, "OK", False)],
)
def test_only_a_2xx_ok_is_an_acknowledgement(http_status: int, body: str, acknowledged: bool) -> None:
    assert is_acknowledged(http_status, body) is acknowledged


def test_notify_mode_is_parsed() -> None:
    assert parse_notify_mode({"mode": "duplicate", "copies": 3}) == NotifyMode("duplicate", 3)


@pytest.mark.parametrize("body", [{"mode": "loud"}, {"mode": "duplicate", "copies": 0}, {"mode": "drop", "copies": "2"}])
def test_bad_notify_mode_is_refused(body: dict) -> None:
    with pytest.raises(ValidationError):
        parse_notify_mode(body)
