"""CLI tests: commands run in-process with click's CliRunner against a real Redis and the simulator."""


import pytest

from shared.settings import Settings


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
