"""Signed notifications to an order's ``notifyUrl``, retried on Stripay's schedule.

On every change of status to completed, rejected, refunded or disputed the
order (all its fields) plus its ``sign`` is POSTed as JSON. Only a 2xx answer
whose body is exactly ``OK`` counts as delivered; anything else (another
status, another body, a refused connection, a timeout) is retried after the
next delay of the schedule (:attr:`SimulatorConfig.scaled_retry_delays_s`),
at most 5 attempts. Every delivery runs in its own task, so a slow or dead
receiver delays nobody else, and every attempt is written to the delivery log.

Modes (``POST /_sim/notify-mode``), read when the status changes:

* ``normal``: each notification once;
* ``duplicate``: each notification ``copies`` times, each copy with its own retries;
* ``out_of_order``: notifications are held until :meth:`Notifier.release`,
  which sends them newest first, each first attempt after the previous one finished;
* ``drop``: nothing is sent (counted in ``dropped``).

One delivery-log entry per attempt::

    {"order_id", "status", "attempt" (1..5), "copy" (1.. in duplicate mode), "url",
     "sent_at" (Unix time in seconds, when the attempt started), "http_status" (null without an answer),
     "body" (first 200 characters of the answer), "ok", "error" (null, or why there is no answer),
     "payload" (the JSON that was sent)}
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from shared.logging import get_logger
from shared.signature import sign
from simulator.config import SimulatorConfig
from simulator.orders import NOTIFY_STATUSES, Order
from simulator.validation import ValidationError

MODES = ("normal", "duplicate", "out_of_order", "drop")
MAX_COPIES = 100
LOGGED_BODY_CHARS = 200
READ_BODY_BYTES = 4096

log = get_logger("simulator.notifier")


@dataclass(frozen=True)
class NotifyMode:
    mode: str = "normal"
    copies: int = 2  # used by ``duplicate`` only


@dataclass(frozen=True)
class Notification:
    payload: dict[str, Any]
    url: str


def parse_notify_mode(body: Mapping[str, Any]) -> NotifyMode:
    """A ``POST /_sim/notify-mode`` body (pure)."""
    mode = body.get("mode")
    if mode not in MODES:
        raise ValidationError("mode", f"mode must be one of {', '.join(MODES)}")
    copies = body.get("copies", 2)
    if isinstance(copies, bool) or not isinstance(copies, int) or not 1 <= copies <= MAX_COPIES:
        raise ValidationError("copies", f"copies must be an integer in the range [1, {MAX_COPIES}]")
    return NotifyMode(mode, copies)


def notification_payload(order: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The notification body: the order's fields plus Stripay's ``sign``."""
    fields = {name: value for name, value in order.items() if name != "sign"}
    return {**fields, "sign": sign(fields, key)}


def is_acknowledged(http_status: int, body: str) -> bool:
    """Stripay's rule: the receiver must answer the string ``OK`` (and we require a 2xx)."""
    return 200 <= http_status < 300 and body == "OK"


class Notifier:
    """Sends notifications in background tasks and keeps the delivery log."""

    def __init__(self, config: SimulatorConfig) -> None:
        self._config = config
        self._session: aiohttp.ClientSession | None = None
        self._mode = NotifyMode()
        self._held: list[Notification] = []
        self._dropped = 0
        self._log: deque[dict[str, Any]] = deque(maxlen=config.max_log_entries)
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=self._config.attempt_timeout_s),
        )

    async def close(self) -> None:
        await self._cancel_tasks()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def reset(self) -> None:
        """Stop every delivery and forget the mode, held notifications and the log."""
        await self._cancel_tasks()
        self._mode = NotifyMode()
        self._held.clear()
        self._dropped = 0
        self._log.clear()

    def set_mode(self, mode: NotifyMode) -> None:
        self._mode = mode

    def state(self) -> dict[str, Any]:
        return {
            "mode": self._mode.mode,
            "copies": self._mode.copies,
            "held": len(self._held),
            "dropped": self._dropped,
            "in_flight": len(self._tasks),
        }

    def deliveries(self, order_id: int | None = None) -> list[dict[str, Any]]:
        return [entry for entry in self._log if order_id is None or entry["order_id"] == order_id]

    def clear_log(self) -> None:
        self._log.clear()

    def status_changed(self, order: Order) -> None:
        """The order store's listener: notify if the order has a notifyUrl and the status is one Stripay notifies."""
        if order.notify_url is None or order.status not in NOTIFY_STATUSES:
            return
        notification = Notification(notification_payload(order.to_api(), self._config.key_of(order.merchant_id)), order.notify_url)
        mode = self._mode.mode
        if mode == "drop":
            self._dropped += 1
        elif mode == "out_of_order":
            self._held.append(notification)
        else:
            copies = self._mode.copies if mode == "duplicate" else 1
            for copy in range(1, copies + 1):
                self._spawn(self._deliver(notification, copy))

    def release(self) -> int:
        """Send the held notifications newest first; return how many."""
        held = list(reversed(self._held))
        self._held.clear()
        if held:
            self._spawn(self._send_in_order(held))
        return len(held)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_in_order(self, notifications: list[Notification]) -> None:
        for notification in notifications:
            first_attempt_done = asyncio.Event()
            self._spawn(self._deliver(notification, 1, first_attempt_done))
            await first_attempt_done.wait()

    async def _deliver(
        self, notification: Notification, copy: int, first_attempt_done: asyncio.Event | None = None
    ) -> None:
        for attempt, delay_s in enumerate(self._config.scaled_retry_delays_s, start=1):
            if delay_s > 0:
                await asyncio.sleep(delay_s)
            entry = await self._attempt(notification, attempt, copy)
            self._log.append(entry)
            if first_attempt_done is not None:
                first_attempt_done.set()
            _log_attempt(entry)
            if entry["ok"]:
                return

    async def _attempt(self, notification: Notification, attempt: int, copy: int) -> dict[str, Any]:
        if self._session is None:
            raise RuntimeError("the notifier is not started")
        entry: dict[str, Any] = {
            "order_id": notification.payload["id"],
            "status": notification.payload["status"],
            "attempt": attempt,
            "copy": copy,
            "url": notification.url,
            "sent_at": time.time(),
            "http_status": None,
            "body": None,
            "ok": False,
            "error": None,
            "payload": notification.payload,
        }
        try:
            async with self._session.post(notification.url, json=notification.payload, allow_redirects=False) as resp:
                body = (await _read_capped(resp.content)).decode("utf-8", errors="replace")
                entry.update(http_status=resp.status, body=body[:LOGGED_BODY_CHARS], ok=is_acknowledged(resp.status, body))
        except TimeoutError:
            entry["error"] = f"timeout after {self._config.attempt_timeout_s:g} s"
        except (aiohttp.ClientError, OSError, ValueError) as err:
            entry["error"] = f"{type(err).__name__}: {err}"
        return entry


async def _read_capped(stream: aiohttp.StreamReader) -> bytes:
    """The answer's first :data:`READ_BODY_BYTES` bytes (enough to tell ``OK`` from anything else)."""
    raw = bytearray()
    while len(raw) < READ_BODY_BYTES:
        chunk = await stream.read(READ_BODY_BYTES - len(raw))
        if not chunk:
            break
        raw += chunk
    return bytes(raw)


def _log_attempt(entry: Mapping[str, Any]) -> None:
    """One log line per attempt; a broken log sink (say, a closed stderr) must not end the retries."""
    with contextlib.suppress(ValueError, OSError):
        log.info(
            "notification_attempt",
            order_id=entry["order_id"],
            status=entry["status"],
            attempt=entry["attempt"],
            copy=entry["copy"],
            http_status=entry["http_status"],
            ok=entry["ok"],
            error=entry["error"],
        )
