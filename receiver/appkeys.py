"""The application's typed keys, in one place."""

from __future__ import annotations

import aiohttp
import redis.asyncio
from aiohttp import web

from shared.event_queue import AsyncEventQueue
from shared.quarantine import AsyncQuarantine
from shared.settings import Settings
from worker.context import WorkerContext

SETTINGS = web.AppKey("settings", Settings)
REDIS = web.AppKey("redis", redis.asyncio.Redis)
EVENT_QUEUE = web.AppKey("event_queue", AsyncEventQueue)
QUARANTINE = web.AppKey("quarantine", AsyncQuarantine)
HTTP_SESSION = web.AppKey("http_session", aiohttp.ClientSession)  # outbound calls (Stripay's pay API)
RETURN_CONTEXT = web.AppKey("return_context", WorkerContext)  # applies okPage's verified state, in a thread
