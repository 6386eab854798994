"""Fixtures of the simulator's tests: a simulator app served in the test's event loop."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from simulator.app import create_app
from simulator.config import SimulatorConfig
from tests.simulator.helpers import FAST
from tests.support.payloads import MERCHANT_KEY


@pytest.fixture
def config() -> SimulatorConfig:
    return SimulatorConfig(merchant_key=MERCHANT_KEY, time_scale=FAST)


@pytest.fixture
async def sim(aiohttp_client: Any, config: SimulatorConfig) -> TestClient:
    """The simulator app on a real port, in the test's event loop."""
    return await aiohttp_client(create_app(config))
