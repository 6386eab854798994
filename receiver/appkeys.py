"""The application's typed keys, in one place."""

from __future__ import annotations

import redis.asyncio
from aiohttp import web

from shared.event_queue import AsyncEventQueue
from shared.quarantine import AsyncQuarantine
from shared.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
REDIS = web.AppKey("redis", redis.asyncio.Redis)
EVENT_QUEUE = web.AppKey("event_queue", AsyncEventQueue)
QUARANTINE = web.AppKey("quarantine", AsyncQuarantine)
