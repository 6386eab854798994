"""A request body within a deadline; a client too slow to send it is answered 408 and cut off.

aiohttp waits for a body as long as the client keeps the connection open, so
a client that sends headers and then trickles its body would hold a
connection and a handler for as long as it likes. The receiver gives the
whole body ``STRIPAY_BODY_TIMEOUT_S`` from the start of the handler, then
answers 408 with ``Connection: close`` and closes the socket at once: the
rest of the body is not read (no lingering close).
"""

from __future__ import annotations

import asyncio

from aiohttp import web


class BodyTooSlow(Exception):
    """The body did not arrive within the deadline."""


async def read_body(request: web.Request, timeout_s: float) -> bytes:
    """The whole body (within the app's ``client_max_size``), or :class:`BodyTooSlow`."""
    try:
        async with asyncio.timeout(timeout_s):
            return await request.read()
    except TimeoutError:
        raise BodyTooSlow from None


async def cut_off(request: web.Request, response: web.Response) -> web.Response:
    """Send ``response`` with ``Connection: close``, then close the connection without
    reading the rest of the body."""
    response.force_close()
    await response.prepare(request)
    await response.write_eof()
    request.protocol.force_close()  # the written answer is flushed before the socket closes
    return response
