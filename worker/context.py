"""What a worker process needs, created once per process (after any fork)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import redis

from shared.order_store import OrderStore
from shared.redis_client import sync_client
from shared.settings import Settings
from shared.stripay_client import StripayClient


@dataclass
class WorkerContext:
    settings: Settings
    redis: redis.Redis
    stripay: StripayClient
    store: OrderStore
    pid: int

    @classmethod
    def create(cls, settings: Settings) -> "WorkerContext":
        if settings.redis_url is None:
            raise RuntimeError("REDIS_URL is required by the worker")
        client = sync_client(settings.redis_url)
        return cls(
            settings=settings,
            redis=client,
            stripay=StripayClient(settings.api_url, settings.api_timeout_s),
            store=OrderStore(client),
            pid=os.getpid(),
        )

    def warm_up(self) -> None:
        """Open the Redis connection and load the scripts before the first job needs them."""
        self.store.load_scripts()

    def close(self) -> None:
        self.stripay.close()
        self.redis.close()


_current: WorkerContext | None = None


def get_context() -> WorkerContext:
    """This process's context; built from the environment on first use."""
    global _current
    if _current is None or _current.pid != os.getpid():
        _current = WorkerContext.create(Settings.from_env(os.environ))
    return _current


def use_context(context: WorkerContext | None) -> None:
    """Install a context (tests, the CLI); ``None`` drops it."""
    global _current
    _current = context
