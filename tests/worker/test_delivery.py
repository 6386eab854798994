"""Applied transitions delivered downstream: Standard Webhooks POST and a Python handler."""

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shared.notification_enqueuer import NotificationEnqueuer
from shared.order_store import OrderStore
from tests.support import handlers
from tests.support.payloads import signed
from tests.support.worker import failed_ids, run_jobs, worker_context
from worker.delivery import standard_webhook_headers

SECRET = "whsec_" + base64.b64encode(b"forward-secret-bytes").decode()


class Endpoint:
    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.fail_next = 0


@pytest.fixture
def endpoint() -> Iterator[tuple[Endpoint, str]]:
    state = Endpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if state.fail_next:
                state.fail_next -= 1
                self.send_response(500)
            else:
                state.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def notify(context, sim, status: str = "completed") -> int:
    order = sim.create_order()
    payload = sim.set_status(order["id"], status)
    NotificationEnqueuer(context.redis, context.settings).enqueue(signed({k: v for k, v in payload.items() if k != "sign"}),
                                                       0.0)
    return int(order["id"])


def test_transition_is_posted_with_a_standard_webhooks_signature(sim, worker_settings, endpoint) -> None:
    state, url = endpoint
    with worker_context(replace(worker_settings, forward_url=url, forward_secret=SECRET)) as context:
        order_id = notify(context, sim)
        run_jobs(context.redis)
    [(headers, body)] = state.requests
    event = json.loads(body)
    assert (event["order_id"], event["from"], event["to"]) == (order_id, None, "completed")
    assert headers["webhook-id"] == event["id"]
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed_content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed_content, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"


def test_failed_forward_is_retried_and_the_transition_kept(sim, worker_settings, endpoint) -> None:
    state, url = endpoint
    state.fail_next = 1
    with worker_context(replace(worker_settings, forward_url=url, forward_secret=SECRET)) as context:
        order_id = notify(context, sim)
        run_jobs(context.redis)
        assert context.redis.xlen("stripay:transitions") == 1
    assert [json.loads(body)["order_id"] for _, body in state.requests] == [order_id]


def test_forward_that_keeps_failing_ends_in_the_failed_registry(sim, worker_settings, endpoint) -> None:
    state, url = endpoint
    state.fail_next = 100
    with worker_context(replace(worker_settings, forward_url=url, forward_secret=SECRET)) as context:
        notify(context, sim)
        run_jobs(context.redis)
        failed = failed_ids(context.redis)
        assert len(failed) == 1 and failed[0].startswith("deliver-")
        assert context.redis.xlen("stripay:transitions") == 1


def test_handler_gets_each_transition_once_with_a_stable_id(sim, worker_settings) -> None:
    handlers.received.clear()
    handlers.failures_left = 1
    with worker_context(replace(worker_settings, handler="tests.support.handlers:record")) as context:
        order_id = notify(context, sim)
        run_jobs(context.redis)
        stored = OrderStore(context.redis).get(order_id)
    assert [(e["order_id"], e["to"]) for e in handlers.received] == [(order_id, "completed")]
    assert handlers.received[0]["id"] == f"{order_id}-{stored.updated_ms}-completed"


def test_no_delivery_job_without_targets(ctx, sim) -> None:
    notify(ctx, sim)
    run_jobs(ctx.redis)
    assert ctx.redis.keys("rq:job:deliver-*") == []


def test_standard_webhook_headers_match_the_specification_example() -> None:
    # The example of the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    headers = standard_webhook_headers(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", body, 1614265330)
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
