"""Liveness, readiness and Prometheus metrics endpoints."""

from __future__ import annotations

import asyncio

import redis.exceptions
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from receiver.appkeys import REDIS

READY_TIMEOUT_S = 1.0


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def readyz(request: web.Request) -> web.Response:
    try:
        await asyncio.wait_for(request.app[REDIS].ping(), timeout=READY_TIMEOUT_S)
    except (redis.exceptions.RedisError, OSError, asyncio.TimeoutError):
        return web.Response(status=503, text="redis unreachable")
    return web.Response(text="ready")


async def metrics_endpoint(request: web.Request) -> web.Response:
    # The queue gauges read Redis with a blocking client: keep that off the event loop.
    body = await asyncio.to_thread(generate_latest, REGISTRY)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
