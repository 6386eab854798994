"""The body deadline, on a real server and socket, for any handler and any way of reading."""

from __future__ import annotations

import asyncio

from aiohttp import web

from receiver.body import body_deadline

TIMEOUT_S = 0.5
CLOSE_MARGIN_S = 2.0


async def _form(request: web.Request) -> web.Response:
    return web.Response(text=str(dict(await request.post())))


async def _json(request: web.Request) -> web.Response:
    return web.json_response(await request.json())


def _app() -> web.Application:
    app = web.Application(middlewares=[body_deadline(TIMEOUT_S)])
    app.router.add_post("/form", _form)
    app.router.add_post("/json", _json)
    return app


async def _trickle(port: int, path: str, content_type: str) -> bytes:
    """Send headers and a first byte of a 1,000-byte body, then one byte every 0.1 s until
    the server answers; everything it sends until it closes (a timeout here fails the test)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
                 "Content-Length: 1000\r\n\r\na".encode())
    answered = asyncio.Event()

    async def keep_sending() -> None:
        while not answered.is_set():
            await asyncio.sleep(0.1)
            if not answered.is_set():
                writer.write(b"a")

    sender = asyncio.create_task(keep_sending())
    received = b""
    try:
        async with asyncio.timeout(TIMEOUT_S + CLOSE_MARGIN_S):
            while chunk := await reader.read(4096):
                received += chunk
                answered.set()
    except ConnectionResetError:
        assert received, "reset before any answer"  # a byte in flight met the closed socket: closed all the same
    finally:
        sender.cancel()
        writer.close()
    return received


async def test_a_trickled_form_is_answered_408_and_closed(aiohttp_server) -> None:
    server = await aiohttp_server(_app())
    received = await _trickle(server.port, "/form", "application/x-www-form-urlencoded")
    assert received.startswith(b"HTTP/1.1 408")
    assert b"Connection: close" in received


async def test_a_trickled_json_body_is_answered_408_and_closed(aiohttp_server) -> None:
    server = await aiohttp_server(_app())
    received = await _trickle(server.port, "/json", "application/json")
    assert received.startswith(b"HTTP/1.1 408")


async def test_a_body_in_time_is_read_as_usual(aiohttp_client) -> None:
    client = await aiohttp_client(_app())
    response = await client.post("/json", json={"a": 1})
    assert (response.status, await response.json()) == (200, {"a": 1})
