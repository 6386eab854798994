"""One Lua script for many concurrent callers over one dedicated, pipelined Redis connection.

The receiver's hot path is one ``EVALSHA`` per notification. Through redis-py's
asyncio pipeline each batch of them costs a connection checkout, a timeout
scope and several event-loop passes per reply; here calls made in the same
loop tick are written with one ``write()``, replies are parsed by hiredis as
bytes arrive and handed to the waiting callers in order, without a task or a
timer per call. Each call is still its own atomic script execution, and a
caller is answered only after Redis has replied to its call (with
``appendfsync always``: after the write is on disk).

Failure is fail-closed: a connect failure, a reply overdue by ``timeout_s``
or a connection lost twice fails the call with a ``redis.exceptions`` error
(the receiver answers 503 and Stripay retries). A call whose connection is
lost is sent once more on a new connection, as redis-py's default retry
does, so a script run here must be safe to repeat: the enqueue script is
(a repeat finds its event remembered). Redis's script cache being empty
(``NOSCRIPT``, after a restart) is repaired by sending that call's script in
full once.

Every ``REDIS_URL`` form: plain TCP (``redis://``), TLS (``rediss://``) and
Unix sockets (``unix://``). For TLS the context is the one redis-py's own
``rediss://`` connection builds from the URL's ``ssl_*`` query options, with
redis-py's defaults (the server's certificate and host name are verified):
a server that fails verification fails the call like an unreachable one.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import hiredis
import redis.asyncio.connection
import redis.exceptions
from redis._parsers.base import BaseParser
from redis.connection import SSLConnection, parse_url

Pending = tuple["asyncio.Future[Any]", float]


def pack_command(*parts: Any) -> bytes:
    """A command in RESP: an array of bulk strings (str as UTF-8, numbers as their decimal text)."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        if isinstance(part, str):
            part = part.encode()
        elif isinstance(part, bool) or not isinstance(part, (bytes, int, float)):
            raise redis.exceptions.DataError(f"cannot send a {type(part).__name__} to Redis")
        elif not isinstance(part, bytes):  # int and float, as redis-py sends them
            part = repr(part).encode() if isinstance(part, float) else str(part).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


class _Protocol(asyncio.Protocol):
    """Writes packed commands, matches replies to callers in order."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.pending: deque[Pending] = deque()
        self.lost: BaseException | None = None
        self._reader = hiredis.Reader()
        self._outgoing: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, command: bytes) -> asyncio.Future[Any]:
        """Queue ``command`` for this tick's write; the future gets its reply."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if self.lost is not None:
            future.set_exception(redis.exceptions.ConnectionError("connection to Redis lost"))
            return future
        if not self._outgoing:
            loop.call_soon(self._write)
        self._outgoing.append(command)
        self.pending.append((future, time.monotonic()))
        return future

    def _write(self) -> None:
        data, self._outgoing = b"".join(self._outgoing), []
        if self.transport is not None and self.lost is None:
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        try:
            while (reply := self._reader.gets()) is not False:
                future, _ = self.pending.popleft()
                if future.done():  # the caller went away
                    continue
                if isinstance(reply, hiredis.ReplyError):
                    # redis-py's own mapping: NOSCRIPT, WRONGPASS, READONLY, ... to their classes
                    future.set_exception(BaseParser.parse_error(str(reply)))
                else:
                    future.set_result(reply)
        except (hiredis.ProtocolError, IndexError) as err:  # garbage or an unrequested reply
            self.abort(redis.exceptions.ConnectionError(f"unreadable reply from Redis: {err}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail_all(self.lost or redis.exceptions.ConnectionError("connection to Redis lost"))

    def abort(self, error: BaseException) -> None:
        self._fail_all(error)
        if self.transport is not None:
            self.transport.abort()

    def _fail_all(self, error: BaseException) -> None:
        if self.lost is None:
            self.lost = error
        self._outgoing = []
        while self.pending:
            future, _ = self.pending.popleft()
            if not future.done():
                future.set_exception(error)


class PipelinedScript:
    """``await script(keys, args)`` runs ``script`` in Redis and returns its reply."""

    def __init__(self, url: str, script: str, timeout_s: float, connect_timeout_s: float) -> None:
        options = parse_url(url)
        if url.startswith("unix:") and not options.get("path"):
            raise ValueError("a unix:// Redis URL needs a socket path")
        self._options = options
        self._tls = tls_context(options) if options.get("connection_class") is SSLConnection else None
        self._script = script.encode()
        self._sha = hashlib.sha1(self._script).hexdigest().encode()
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._closed = False

    async def __call__(self, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        try:
            return await self._call(keys, args)
        except (redis.exceptions.TimeoutError, redis.exceptions.AuthenticationError):
            raise
        except redis.exceptions.ConnectionError:
            # Most often a connection Redis closed (a restart) before this call was written;
            # as redis-py's default retry does, try once more on a new one.
            return await self._call(keys, args)

    async def _call(self, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        protocol = await self._connected()
        try:
            return await self._send(protocol, pack_command(b"EVALSHA", self._sha, len(keys), *keys, *args))
        except redis.exceptions.NoScriptError:
            # Redis restarted or its script cache was flushed: nothing ran. EVAL caches it again.
            return await self._send(protocol, pack_command(b"EVAL", self._script, len(keys), *keys, *args))

    async def close(self) -> None:
        """Fail every unanswered call and refuse new ones."""
        self._closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self._connecting is not None:
            self._connecting.cancel()
        if self._protocol is not None:
            self._protocol.abort(redis.exceptions.ConnectionError("closed"))
            self._protocol = None

    def _send(self, protocol: _Protocol, command: bytes) -> asyncio.Future[Any]:
        future = protocol.send(command)
        if self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().call_later(self._timeout_s / 4, self._watch)
        return future

    def _watch(self) -> None:
        """Abort the connection when its oldest unanswered call is overdue."""
        self._watchdog = None
        protocol = self._protocol
        if protocol is None or not protocol.pending:
            return
        if time.monotonic() - protocol.pending[0][1] > self._timeout_s:
            protocol.abort(redis.exceptions.TimeoutError(f"no reply from Redis within {self._timeout_s:g} s"))
            return
        self._watchdog = asyncio.get_running_loop().call_later(self._timeout_s / 4, self._watch)

    async def _connected(self) -> _Protocol:
        if self._closed:
            raise redis.exceptions.ConnectionError("closed")
        protocol = self._protocol
        if protocol is not None and protocol.lost is None:
            return protocol
        connecting = self._connecting
        if connecting is None:  # one connect for every caller waiting meanwhile
            connecting = self._connecting = asyncio.ensure_future(self._connect())
            connecting.add_done_callback(self._connect_done)
        try:
            return await asyncio.shield(connecting)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # this caller was cancelled
            raise redis.exceptions.ConnectionError("closed while connecting") from None

    def _connect_done(self, connecting: asyncio.Future[_Protocol]) -> None:
        self._connecting = None
        if connecting.cancelled() or connecting.exception() is not None:
            return
        if self._closed:
            connecting.result().abort(redis.exceptions.ConnectionError("closed"))
        else:
            self._protocol = connecting.result()

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        options = self._options
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                if "path" in options:
                    _, protocol = await loop.create_unix_connection(_Protocol, options["path"])
                else:
                    _, protocol = await loop.create_connection(
                        _Protocol, options.get("host", "localhost"), options.get("port", 6379), ssl=self._tls)
                setup = []
                if options.get("username") or options.get("password"):  # as redis-py authenticates
                    user = [options["username"]] if options.get("username") else []
                    setup.append(protocol.send(pack_command(b"AUTH", *user, options.get("password") or "")))
                if options.get("db"):
                    setup.append(protocol.send(pack_command(b"SELECT", options["db"])))
                try:
                    await asyncio.gather(*setup)
                except BaseException:
                    protocol.abort(redis.exceptions.ConnectionError("connection set-up failed"))
                    raise
        except ssl.SSLCertVerificationError as err:  # wrong CA, host name not in the certificate, expired
            raise redis.exceptions.ConnectionError(f"cannot connect to Redis: {err.verify_message}") from err
        except (OSError, TimeoutError, ValueError) as err:  # ValueError: a host name that cannot be encoded
            raise redis.exceptions.ConnectionError(f"cannot connect to Redis: {type(err).__name__}") from err
        except redis.exceptions.ResponseError as err:  # a wrong password is an AuthenticationError already
            raise redis.exceptions.ConnectionError(f"Redis refused the connection set-up: {err}") from err
        return protocol



def tls_context(options: dict[str, Any]) -> ssl.SSLContext:
    """The context redis-py's asyncio ``rediss://`` connection would use for these parsed URL options."""
    tls_options = {name: value for name, value in options.items() if name.startswith("ssl_")}
    try:
        return redis.asyncio.connection.SSLConnection(**tls_options).ssl_context.get()
    except TypeError as err:  # an ssl_* option redis-py does not know
        raise ValueError(f"unknown TLS option in the Redis URL: {err}") from None
    except (OSError, redis.exceptions.RedisError) as err:  # unreadable CA or key file, bad ssl_cert_reqs
        raise ValueError(f"the Redis URL's TLS options are unusable: {err}") from None
