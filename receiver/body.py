"""A request body within a deadline; a client too slow to send it is answered 408 and cut off.

aiohttp waits for a body as long as the client keeps the connection open, so
a client that sends headers and then trickles its body would hold a
connection and a handler for as long as it likes. :func:`body_deadline`
gives every request's body ``STRIPAY_BODY_TIMEOUT_S`` from the moment its
headers are in: a read still waiting then raises :class:`BodyTooSlow` (an
HTTP 408) in the handler, whatever it was reading with (``read``, ``post``,
``json``), and whatever the handler answers is sent with
``Connection: close`` and the socket closed at once: the rest of the body is
not read (no lingering close).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TOO_SLOW_TEXT = "body not received in time"


class BodyTooSlow(web.HTTPRequestTimeout):
    """The body did not arrive within the deadline (408)."""

    def __init__(self) -> None:
        super().__init__(text=TOO_SLOW_TEXT, content_type="text/plain")


def body_deadline(timeout_s: float) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """Middleware: the body must be in within ``timeout_s`` of the headers."""

    @web.middleware
    async def deadline(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.body_exists:
            return await handler(request)
        expired = False

        def expire() -> None:
            nonlocal expired
            if not request.content.is_eof():
                expired = True
                request.content.set_exception(BodyTooSlow())

        timer = asyncio.get_running_loop().call_later(timeout_s, expire)
        try:
            response = await handler(request)
        except BodyTooSlow:
            response = web.Response(status=408, text=TOO_SLOW_TEXT, content_type="text/plain")
        finally:
            timer.cancel()
        if expired:
            return await cut_off(request, response)
        return response

    return deadline


async def cut_off(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """Send ``response`` with ``Connection: close``, then close the connection without
    reading the rest of the body."""
    if not response.prepared:
        response.force_close()
        await response.prepare(request)
    await response.write_eof()
    request.protocol.force_close()  # the written answer is flushed before the socket closes
    return response
