"""Hostile input against a real receiver process: always a 4xx or OK, never a 5xx,
never an enqueue without a valid signature."""

from __future__ import annotations

import json
import selectors
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import redis
from hypothesis import HealthCheck, given, settings as hyp_settings, strategies as st

from shared.settings import Settings
from tests.support.payloads import MERCHANT_KEY, order_payload, signed
from tests.support.receiver import ReceiverProcess

ALLOWED = {200, 400, 403, 413}
CONTENT_TYPES = st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain",
                                 "multipart/form-data; boundary=x", "", "application/json; charset=latin-1"])
json_scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                | st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c,
                                                                                              max_size=4),
                           max_leaves=12)
PROPERTY = hyp_settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def receiver(redis_server) -> Iterator[ReceiverProcess]:
    settings = Settings(merchant_keys=(MERCHANT_KEY,), redis_url=redis_server.url, max_body_bytes=4096)
    with ReceiverProcess(settings) as process:
        yield process


@pytest.fixture(scope="module")
def http(receiver) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=receiver.url, timeout=10) as client:
        yield client


@pytest.fixture
def queue_len(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield lambda: int(client.llen("rq:queue:stripay"))
    client.close()


@PROPERTY
@given(body=st.binary(max_size=600), content_type=CONTENT_TYPES)
def test_random_bytes(http, queue_len, body: bytes, content_type: str) -> None:
    response = http.post("/stripay/notify", content=body, headers={"Content-Type": content_type})
    assert response.status_code in ALLOWED - {200}
    assert queue_len() == 0


@PROPERTY
@given(value=json_values)
def test_random_json_without_a_valid_signature(http, queue_len, value) -> None:
    response = http.post("/stripay/notify", content=json.dumps(value), headers={"Content-Type": "application/json"})
    assert response.status_code in {400, 403}
    assert queue_len() == 0


@PROPERTY
@given(extra=st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: k not in ("id", "sign")), json_values,
                             max_size=6),
       order_id=st.integers(min_value=0, max_value=2**63 - 1))
def test_random_fields_signed_with_the_key_are_accepted(http, extra, order_id: int) -> None:
    payload = signed({**extra, "id": order_id})
    response = http.post("/stripay/notify", content=json.dumps(payload), headers={"Content-Type": "application/json"})
    assert (response.status_code, response.text) == (200, "OK")


@PROPERTY
@given(extra=st.dictionaries(st.text(min_size=1, max_size=8), json_values, min_size=1, max_size=6))
def test_signed_with_another_key_never_enqueues(http, queue_len, extra) -> None:
    payload = signed({**extra, "id": 1}, key="some-other-merchant-key")
    response = http.post("/stripay/notify", content=json.dumps(payload), headers={"Content-Type": "application/json"})
    assert response.status_code == 403
    assert queue_len() == 0


@pytest.mark.parametrize("body", [
    b"[" * 100_000,
    b'{"id": 1, "sign": "' + b"a" * 32 + b'", "n": ' + b"9" * 3000 + b"}",
    b'{"id": 1e999999, "sign": "x"}',
    b'{"id": 1, "id": "x", "sign": "00000000000000000000000000000000"}',
    b"\x00" * 100,
    b'{"id": "\\ud800", "sign": "x"}',
])
def test_pathological_bodies(http, queue_len, body: bytes) -> None:
    response = http.post("/stripay/notify", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code in {400, 403, 413}
    assert queue_len() == 0


def test_duplicated_keys_are_read_as_json_parse_reads_them(http, queue_len) -> None:
    payload = order_payload(5, status="completed")
    text = json.dumps(payload)
    # A second "status" after the signed one: JSON.parse keeps the last, so the signature fails.
    forged = text[:-1] + ', "status": "refunded"}'
    response = http.post("/stripay/notify", content=forged, headers={"Content-Type": "application/json"})
    assert response.status_code == 403
    assert queue_len() == 0


def test_slow_sender_does_not_block_others(http, receiver) -> None:
    slow = socket.create_connection(("127.0.0.1", receiver.port))
    slow.sendall(b"POST /stripay/notify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 1000\r\n\r\n{\"id\": 1,")
    try:
        response = http.post("/stripay/notify", json=order_payload(900))
        assert (response.status_code, response.text) == (200, "OK")
    finally:
        slow.close()


def test_many_idle_connections_do_not_block_others(http, receiver) -> None:
    idle = [socket.create_connection(("127.0.0.1", receiver.port)) for _ in range(300)]
    try:
        response = http.post("/stripay/notify", json=order_payload(901))
        assert (response.status_code, response.text) == (200, "OK")
    finally:
        for sock in idle:
            sock.close()


def test_oversized_chunked_body_gets_413(http, queue_len) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"x" * 1024

    response = http.post("/stripay/notify", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert queue_len() == 0


# --- bad shapes --------------------------------------------------------------------------------

SIGN = "0123456789abcdef0123456789abcdef"
ROOMY_BODY_BYTES = 1024 * 1024  # so the nesting, not the size limit, is what gets the answer


def _nested(depth: int, kind: str) -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    return b'{"a": ' * (depth - 1) + b"{}" + b"}" * (depth - 1)


@pytest.fixture(scope="module")
def roomy_receiver(redis_server, tmp_path_factory) -> Iterator[ReceiverProcess]:
    settings = Settings(merchant_keys=(MERCHANT_KEY,), redis_url=redis_server.url, max_body_bytes=ROOMY_BODY_BYTES)
    log_path = tmp_path_factory.mktemp("roomy") / "receiver.log"
    with ReceiverProcess(settings, log_path=str(log_path)) as process:
        process.log_path = log_path  # type: ignore[attr-defined]
        yield process


@pytest.mark.parametrize("kind", ["array", "object"])
@pytest.mark.parametrize("where", ["bare", "in a field"])
@pytest.mark.parametrize("depth", [900, 1_000, 100_000])
def test_deep_nesting_is_a_400_without_a_traceback(roomy_receiver, queue_len, depth: int, where: str,
                                                    kind: str) -> None:
    nested = _nested(depth, kind)
    body = nested if where == "bare" else b'{"id": 1, "sign": "' + SIGN.encode() + b'", "x": ' + nested + b"}"
    response = httpx.post(roomy_receiver.notify_url, content=body, headers={"Content-Type": "application/json"},
                          timeout=10)
    assert (response.status_code, response.text) == (400, "body nests deeper than 32 levels")
    assert queue_len() == 0
    log = roomy_receiver.log_path.read_text()
    assert "Traceback" not in log and "unhandled_error" not in log


def test_a_nested_value_within_the_limit_is_verified_as_usual(roomy_receiver, queue_len) -> None:
    payload = signed({**order_payload(903), "x": json.loads(_nested(31, "array"))})
    response = httpx.post(roomy_receiver.notify_url, json=payload, timeout=10)
    assert (response.status_code, response.text) == (200, "OK")
    assert queue_len() == 1


# --- slow clients ----------------------------------------------------------------------------------

BODY_TIMEOUT_S = 1.0
KEEPALIVE_TIMEOUT_S = 1.0
TRICKLERS = 200
TRICKLE_EVERY_S = 0.25
GENUINE_ACK_TIMEOUT_S = 1.0
CLOSE_MARGIN_S = 2.0


@pytest.fixture(scope="module")
def strict_receiver(redis_server) -> Iterator[ReceiverProcess]:
    """A receiver with 1 s for a body and 1 s of keep-alive idleness."""
    settings = Settings(merchant_keys=(MERCHANT_KEY,), redis_url=redis_server.url, max_body_bytes=4096)
    extra = {"STRIPAY_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S), "STRIPAY_KEEPALIVE_TIMEOUT_S": str(KEEPALIVE_TIMEOUT_S)}
    with ReceiverProcess(settings, extra_env=extra) as process:
        yield process


def _trickler(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"POST /stripay/notify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 1000\r\n\r\n{")
    sock.setblocking(False)
    return sock


class Tricklers:
    """Connections that keep sending one byte of their body at a time, in a thread,
    each until the server answers or closes it; what each received is kept."""

    def __init__(self, port: int, count: int) -> None:
        self.sockets = [_trickler(port) for _ in range(count)]
        self.received = {sock: b"" for sock in self.sockets}
        self.closed: set[socket.socket] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Tricklers":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for sock in self.sockets:
            sock.close()

    def _read(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:  # reset after the answer: closed as well
            self.closed.add(sock)
            return
        if data:
            self.received[sock] += data
        else:
            self.closed.add(sock)

    def _run(self) -> None:
        with selectors.DefaultSelector() as selector:
            for sock in self.sockets:
                selector.register(sock, selectors.EVENT_READ)
            while not self._stop.is_set() and len(self.closed) < len(self.sockets):
                for key, _ in selector.select(timeout=TRICKLE_EVERY_S):
                    self._read(key.fileobj)  # type: ignore[arg-type]
                    if key.fileobj in self.closed:
                        selector.unregister(key.fileobj)
                for sock in self.sockets:
                    if sock not in self.closed and not self.received[sock]:
                        try:
                            sock.send(b" ")
                        except OSError:
                            pass  # the answer (or the close) is read on the next round

    def wait_all_closed(self, deadline: float) -> None:
        while len(self.closed) < len(self.sockets) and time.monotonic() < deadline:
            time.sleep(0.05)


def test_trickling_bodies_do_not_delay_a_genuine_ack_and_are_cut_off(strict_receiver, queue_len) -> None:
    started = time.monotonic()
    with Tricklers(strict_receiver.port, TRICKLERS) as tricklers:
        # The genuine notification is acknowledged within the timeout, 200 trickling connections or not.
        response = httpx.post(strict_receiver.notify_url, json=order_payload(902), timeout=GENUINE_ACK_TIMEOUT_S)
        assert (response.status_code, response.text) == (200, "OK")
        tricklers.wait_all_closed(deadline=started + BODY_TIMEOUT_S + CLOSE_MARGIN_S)
        still_open = len(tricklers.sockets) - len(tricklers.closed)
        answers = {tricklers.received[sock].split(b"\r\n", 1)[0] for sock in tricklers.sockets}
    assert still_open == 0
    assert answers == {b"HTTP/1.1 408 Request Timeout"}
    assert queue_len() == 1


def _wait_closed(sock: socket.socket, timeout_s: float) -> bytes:
    """Everything the server sends until it closes the connection (socket timeout: not closed)."""
    sock.settimeout(timeout_s)
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    return received


def test_an_idle_keep_alive_connection_is_closed(strict_receiver) -> None:
    with socket.create_connection(("127.0.0.1", strict_receiver.port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        received = _wait_closed(sock, KEEPALIVE_TIMEOUT_S + CLOSE_MARGIN_S)
    assert received.startswith(b"HTTP/1.1 200")


def test_a_connection_that_sends_nothing_is_closed(strict_receiver) -> None:
    with socket.create_connection(("127.0.0.1", strict_receiver.port)) as sock:
        assert _wait_closed(sock, KEEPALIVE_TIMEOUT_S + CLOSE_MARGIN_S) == b""


def test_headers_without_their_end_are_closed(strict_receiver) -> None:
    with socket.create_connection(("127.0.0.1", strict_receiver.port)) as sock:
        sock.sendall(b"POST /stripay/notify HTTP/1.1\r\nHost: x\r\n")
        assert _wait_closed(sock, KEEPALIVE_TIMEOUT_S + CLOSE_MARGIN_S) == b""
