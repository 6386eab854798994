"""The application's typed keys, in one place."""

from __future__ import annotations

import aiohttp
import redis.asyncio
from aiohttp import web

from shared.notification_enqueuer import AsyncNotificationEnqueuer
from shared.order_store import AsyncOrderStore
from shared.quarantine import AsyncQuarantine
from shared.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
REDIS = web.AppKey("redis", redis.asyncio.Redis)
ENQUEUER = web.AppKey("enqueuer", AsyncNotificationEnqueuer)
QUARANTINE = web.AppKey("quarantine", AsyncQuarantine)
HTTP_SESSION = web.AppKey("http_session", aiohttp.ClientSession)  # outbound calls (Stripay's pay API)
ORDER_STORE = web.AppKey("order_store", AsyncOrderStore)  # applies okPage's verified state
