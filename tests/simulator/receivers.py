"""Notify targets for the simulator's tests: they record every body and answer from a script.

``answers`` lists the ``(http_status, body)`` of the first requests; every later
request is answered ``200 OK``. :class:`Recorder` is an aiohttp app for async
tests; :class:`ThreadedReceiver` serves from a thread, for sync tests.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiohttp import web

ACK = (200, "OK")


class Recorder:
    """An aiohttp notify target; with ``hold`` it keeps every request waiting until the event is set."""

    def __init__(self, answers: Sequence[tuple[int, str]] = (), hold: asyncio.Event | None = None) -> None:
        self.answers = list(answers)
        self.hold = hold
        self.bodies: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        index = len(self.bodies)
        self.bodies.append(body)
        if self.hold is not None:
            await self.hold.wait()
        http_status, text = self.answers[index] if index < len(self.answers) else ACK
        return web.Response(status=http_status, text=text)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/notify", self.handle)
        return app


class ThreadedReceiver:
    """A notify target on a free port of 127.0.0.1, served by a thread."""

    def __init__(self, answers: Sequence[tuple[int, str]] = ()) -> None:
        self.answers = list(answers)
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver._lock:
                    index = len(receiver.bodies)
                    receiver.bodies.append(body)
                http_status, text = receiver.answers[index] if index < len(receiver.answers) else ACK
                raw = text.encode()
                self.send_response(http_status)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/notify"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> "ThreadedReceiver":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
