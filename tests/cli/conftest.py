"""CLI tests: commands run in-process with click's CliRunner against a real Redis and the simulator."""

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


@pytest.fixture
def cli_env(worker_settings: Settings) -> dict[str, str | None]:
    """The environment `stripay-hooks` reads, configured like the workers of the test."""
    return env_for(worker_settings)


def env_for(settings: Settings, **overrides: str | None) -> dict[str, str | None]:
    env: dict[str, str | None] = {
        "REDIS_URL": settings.redis_url,
        "STRIPAY_API_URL": settings.api_url,
        "STRIPAY_MERCHANT_KEY": ",".join(settings.merchant_keys),
        "STRIPAY_MERCHANTS_FILE": None,
        "STRIPAY_RETRY_S": ",".join(str(s) for s in settings.retry_s),
        "STRIPAY_RECHECK_S": ",".join(str(s) for s in settings.recheck_s),
        "STRIPAY_API_TIMEOUT_S": str(settings.api_timeout_s),
        "STRIPAY_SWEEP_EVERY_S": None,
    }
    env.update(overrides)
    return env
