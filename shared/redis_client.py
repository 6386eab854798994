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


def sync_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=CONNECT_TIMEOUT_S, health_check_interval=30
    )
