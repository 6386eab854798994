"""Fixtures of the BillRun endpoint tests: the receiver app over real HTTP, backed by the simulator."""

from __future__ import annotations

from dataclasses import replace

import pytest
from aiohttp.test_utils import TestClient

from receiver.app import create_app
from shared.settings import Settings
from tests.support.simulator import SimulatorThread


@pytest.fixture
def billrun_settings(settings: Settings, sim: SimulatorThread) -> Settings:
    """Retries compressed to 0 s so the worker runs every job at once."""
    return replace(settings, api_url=sim.url, retry_s=(0, 0), recheck_s=(0, 0, 0), api_timeout_s=2.0)


@pytest.fixture
async def client(aiohttp_client, billrun_settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(billrun_settings))
