"""Redis clients, created once per process, with bounded timeouts."""

from __future__ import annotations

import redis
import redis.asyncio

SOCKET_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 2.0


def async_client(url: str) -> redis.asyncio.Redis:
    return redis.asyncio.Redis.from_url(
        url, socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=CONNECT_TIMEOUT_S, health_check_interval=30
    )


def sync_client(url: str, max_connections: int | None = None) -> redis.Redis:
    """``max_connections``: a pool of at most that many connections, shared by the process's
    threads; a thread finding them all in use waits for one (up to the socket timeout)."""
    options = {"socket_timeout": SOCKET_TIMEOUT_S, "socket_connect_timeout": CONNECT_TIMEOUT_S,
               "health_check_interval": 30}
    if max_connections is None:
        return redis.Redis.from_url(url, **options)
    pool = redis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=SOCKET_TIMEOUT_S,
                                                 **options)
    return redis.Redis(connection_pool=pool)
