"""What a worker process needs, created once per process (after any fork)."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import redis
import urllib3

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
    # The forwarding target's connections (worker.delivery), kept alive between deliveries. No
    # retries or redirects: a failure raises and RQ's retry schedule takes over.
    forwarding: urllib3.PoolManager

    @classmethod
    def create(cls, settings: Settings, client: redis.Redis | None = None,
               http_connections: int | None = None) -> "WorkerContext":
        """``client``: the process's Redis client, when its job threads share one;
        ``http_connections``: the size of the HTTP connection pool (one per job thread)."""
        if settings.redis_url is None:
            raise RuntimeError("REDIS_URL is required by the worker")
        client = client or sync_client(settings.redis_url)
        return cls(
            settings=settings,
            redis=client,
            stripay=StripayClient(settings.api_url, settings.api_timeout_s, max_connections=http_connections),
            store=OrderStore(client),
            pid=os.getpid(),
            forwarding=urllib3.PoolManager(retries=False),
        )

    def warm_up(self) -> None:
        """Open the Redis connection and load the scripts before the first job needs them."""
        self.store.load_scripts()

    def close(self) -> None:
        self.stripay.close()
        self.forwarding.clear()
        self.redis.close()


_current: WorkerContext | None = None
_creating = threading.Lock()


def get_context() -> WorkerContext:
    """This process's context (shared by its job threads); built from the environment on first use."""
    global _current
    context = _current
    if context is None or context.pid != os.getpid():
        with _creating:
            if _current is None or _current.pid != os.getpid():
                _current = WorkerContext.create(Settings.from_env(os.environ))
            context = _current
    return context


def use_context(context: WorkerContext | None) -> None:
    """Install a context (tests, the CLI); ``None`` drops it."""
    global _current
    _current = context
