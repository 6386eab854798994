"""Remember a notification and enqueue its RQ job in one server-side step.

One ``EVALSHA`` per notification (``enqueue_notification.lua``, with KEYS and
ARGV from :class:`shared.jobs.NotificationJobs`): if the notification's
identity is already remembered the script answers "duplicate" and writes
nothing; otherwise it writes the RQ job hash, pushes the job id on the
``stripay`` queue and only then remembers the identity (for ``dedupe_ttl_s``).
Redis runs a script to completion without interleaving other commands, so 50
identical deliveries at once produce exactly one job. Should a write fail
inside the script, the identity write that comes last has not happened, so
Stripay's next retry enqueues again: at worst an extra job, which the worker's
per-order state makes harmless, never a lost one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis

from shared.jobs import ENQUEUE_NOTIFICATION_SCRIPT, NotificationJobs
from shared.redis_client import CONNECT_TIMEOUT_S, SOCKET_TIMEOUT_S
from shared.script_pipe import PipelinedScript
from shared.settings import Settings


@dataclass(frozen=True)
class EnqueueResult:
    accepted: bool  # False: a duplicate of a remembered notification
    job_id: str


def _result(reply: list[Any]) -> EnqueueResult:
    job_id = reply[1].decode() if isinstance(reply[1], bytes) else str(reply[1])
    return EnqueueResult(accepted=int(reply[0]) == 1, job_id=job_id)


class AsyncNotificationEnqueuer:
    """Enqueue from the aiohttp receiver: one script call per notification, the calls
    of concurrent requests sent to Redis together on a connection of its own
    (:mod:`shared.script_pipe`)."""

    def __init__(self, settings: Settings) -> None:
        if settings.redis_url is None:
            raise ValueError("REDIS_URL is required to enqueue notifications")
        self._script = PipelinedScript(settings.redis_url, ENQUEUE_NOTIFICATION_SCRIPT, SOCKET_TIMEOUT_S,
                                       CONNECT_TIMEOUT_S)
        self._jobs = NotificationJobs(settings)

    async def close(self) -> None:
        await self._script.close()

    async def enqueue(self, payload: Mapping[str, Any], received_at: float) -> EnqueueResult:
        keys, args = self._jobs.script_call(payload, received_at)
        return _result(await self._script(keys, args))


class NotificationEnqueuer:
    """The same enqueue, blocking, for the CLI and tools."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self._script = client.register_script(ENQUEUE_NOTIFICATION_SCRIPT)
        self._jobs = NotificationJobs(settings)

    def enqueue(self, payload: Mapping[str, Any], received_at: float) -> EnqueueResult:
        keys, args = self._jobs.script_call(payload, received_at)
        return _result(self._script(keys=keys, args=args))
