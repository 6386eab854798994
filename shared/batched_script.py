"""Run one Lua script for many concurrent callers, with one Redis round trip per loop tick.

Every call stays its own atomic script execution; calls that arrive while the
event loop is busy are written together as one non-transactional pipeline of
``EVALSHA`` and each caller gets its own reply (its own error included). A
caller is answered only after Redis has replied to its call, which with
``appendfsync always`` comes after the write is on disk.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any

import redis.asyncio
import redis.exceptions

Call = tuple[Sequence[Any], Sequence[Any], "asyncio.Future[Any]"]


class BatchedScript:
    def __init__(self, client: redis.asyncio.Redis, script: str) -> None:
        self._client = client
        self._script = script
        self._sha = hashlib.sha1(script.encode()).hexdigest()
        self._pending: list[Call] = []
        self._flushes: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        """Nothing of its own to close: the client is its owner's."""

    async def __call__(self, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush_pending)
        self._pending.append((keys, args, future))
        return await future

    def _flush_pending(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.ensure_future(self._run(batch))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _run(self, batch: list[Call]) -> None:
        try:
            replies = await self._send(batch)
            if any(isinstance(reply, redis.exceptions.NoScriptError) for reply in replies):
                # Redis restarted or flushed its script cache: nothing ran for those calls.
                await self._client.script_load(self._script)
                replies = await self._send(batch)
        except Exception as err:  # noqa: BLE001 - every caller gets the error, none hangs
            replies = [err] * len(batch)
        for (_, _, future), reply in zip(batch, replies):
            if future.done():  # the caller went away
                continue
            if isinstance(reply, BaseException):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def _send(self, batch: list[Call]) -> list[Any]:
        async with self._client.pipeline(transaction=False) as pipe:
            for keys, args, _ in batch:
                pipe.evalsha(self._sha, len(keys), *keys, *args)
            return list(await pipe.execute(raise_on_error=False))
