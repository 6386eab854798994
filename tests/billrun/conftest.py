"""Fixtures of the BillRun endpoint tests: the receiver app over real HTTP, backed by the simulator."""

from __future__ import annotations

from dataclasses import replace

import pytest
from aiohttp.test_utils import TestClient

from receiver.app import create_app
from shared.embedded_redis import free_port
from shared.settings import BillrunSettings, Settings
from tests.billrun.helpers import REDIRECT_HOSTS, SHARED_SECRET
from tests.support.simulator import SimulatorThread


@pytest.fixture
def public_port() -> int:
    """The port the receiver under test listens on, known before it starts (its public URL names it)."""
    return free_port()


@pytest.fixture
def billrun_settings(settings: Settings, sim: SimulatorThread, public_port: int) -> Settings:
    """Retries compressed to 0 s so the worker runs every job at once; BillRun configured as deployed,
    with the public URL on loopback http."""
    return replace(settings, api_url=sim.url, retry_s=(0, 0), recheck_s=(0, 0, 0), api_timeout_s=2.0,
                   public_url=f"http://127.0.0.1:{public_port}",
                   billrun=BillrunSettings(shared_secrets=(SHARED_SECRET,), redirect_hosts=REDIRECT_HOSTS))


@pytest.fixture
def start(aiohttp_client, public_port: int):
    """Start the receiver app with ``settings`` on the public port."""

    async def started(settings: Settings) -> TestClient:
        return await aiohttp_client(create_app(settings), server_kwargs={"port": public_port})

    return started


@pytest.fixture
async def client(start, billrun_settings: Settings) -> TestClient:
    return await start(billrun_settings)
