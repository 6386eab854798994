from collections.abc import Iterator
from dataclasses import replace

import pytest

from shared.settings import Settings
from tests.support.simulator import SimulatorThread
from tests.support.worker import worker_context
from worker.context import WorkerContext


@pytest.fixture
def worker_settings(settings: Settings, sim: SimulatorThread) -> Settings:
    """Schedules compressed to 0 s so tests run every retry and recheck at once."""
    return replace(settings, api_url=sim.url, retry_s=(0, 0), recheck_s=(0, 0, 0), api_timeout_s=2.0,
                   coalesce_s=2.0)


@pytest.fixture
def ctx(worker_settings: Settings) -> Iterator[WorkerContext]:
    with worker_context(worker_settings) as context:
        yield context
