"""``stripay-hooks trigger SCENARIO``: drive an order on a running simulator, like ``stripe trigger``.

Creates an order whose ``notifyUrl`` is the receiver, drives it through the
scenario with the control API, waits briefly for the notifications and prints
what was sent and what the receiver answered (from the delivery log). The
notify mode is left ``normal`` afterwards.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import click

from cli.main import fail
from simulator.client import ControlClient, SimulatorError, SimulatorUnreachable
from simulator.config import DEFAULT_PORT

DEFAULT_SIMULATOR_URL = f"http://127.0.0.1:{DEFAULT_PORT}"
DEFAULT_NOTIFY_URL = "http://127.0.0.1:8080/stripay/notify"
POLL_S = 0.05
REJECT_NOTE = "Your card was declined."


@dataclass(frozen=True)
class Scenario:
    statuses: tuple[str, ...]  # driven in this order, each one notified
    mode: str = "normal"
    copies: int = 1

    @property
    def expected_first_attempts(self) -> int:
        return len(self.statuses) * self.copies


SCENARIOS: dict[str, Scenario] = {
    "completed": Scenario(("completed",)),
    "refunded": Scenario(("completed", "refunded")),
    "disputed": Scenario(("completed", "disputed")),
    "rejected": Scenario(("rejected",)),
    "retry-storm": Scenario(("completed",), mode="duplicate", copies=5),
    "out-of-order": Scenario(("completed", "refunded"), mode="out_of_order"),
}


def run_scenario(client: ControlClient, name: str, notify_url: str, wait_s: float) -> dict[str, Any]:
    """Drive one scenario; return the final order and its delivery attempts."""
    scenario = SCENARIOS[name]
    client.set_notify_mode(scenario.mode, scenario.copies)
    try:
        order = client.create_order(merchantOrderId=f"trigger-{name}-{uuid.uuid4().hex[:8]}", notifyUrl=notify_url)
        for status in scenario.statuses:
            client.set_status(order["id"], status, REJECT_NOTE if status == "rejected" else None)
        if scenario.mode == "out_of_order":
            client.release()
    finally:
        if scenario.mode != "normal":
            client.set_notify_mode("normal")
    deadline = time.monotonic() + wait_s
    while True:
        deliveries = client.deliveries(order["id"])
        first_attempts = sum(1 for entry in deliveries if entry["attempt"] == 1)
        if first_attempts >= scenario.expected_first_attempts or time.monotonic() >= deadline:
            break
        time.sleep(POLL_S)
    return {
        "scenario": name,
        "expected_notifications": scenario.expected_first_attempts,
        "order": client.order(order["id"]),
        "deliveries": deliveries,
    }


def describe_attempt(entry: dict[str, Any]) -> str:
    payload = entry["payload"]
    sent = f"{entry['status']:<9} updatedAt {payload['updatedAt']} sign {payload['sign']}"
    where = f"attempt {entry['attempt']} copy {entry['copy']}"
    if entry["error"] is not None:
        answer = f"error: {entry['error']}"
    else:
        answer = f"{entry['http_status']} {json.dumps(entry['body'])}"
    verdict = "delivered" if entry["ok"] else "not acknowledged (Stripay retries)"
    return f"  sent {sent}  {where}  -> {answer}  {verdict}"


def render_text(result: dict[str, Any], notify_url: str) -> str:
    order = result["order"]
    lines = [f"{result['scenario']}: order {order['id']} ({order['merchantOrderId']}) is {order['status']}, "
             f"notifying {notify_url}"]
    lines += [describe_attempt(entry) for entry in result["deliveries"]]
    seen = sum(1 for entry in result["deliveries"] if entry["attempt"] == 1)
    if seen < result["expected_notifications"]:
        lines.append(f"  only {seen} of {result['expected_notifications']} notifications attempted so far")
    return "\n".join(lines)


@click.command()
@click.argument("scenario", type=click.Choice(sorted(SCENARIOS)))
@click.option("--simulator", "simulator_url", default=DEFAULT_SIMULATOR_URL, show_default=True,
              help="Base URL of a running simulator.")
@click.option("--notify-url", default=DEFAULT_NOTIFY_URL, show_default=True, help="The receiver's notify URL.")
@click.option("--wait-s", type=float, default=5.0, show_default=True, help="How long to wait for the deliveries.")
@click.option("--json", "as_json", is_flag=True, help="Print the order and the delivery log as JSON.")
def trigger(scenario: str, simulator_url: str, notify_url: str, wait_s: float, as_json: bool) -> None:
    """Send the notifications of SCENARIO from a running simulator to a receiver."""
    client = ControlClient(simulator_url)
    try:
        result = run_scenario(client, scenario, notify_url, wait_s)
    except SimulatorUnreachable as err:
        fail(str(err))
    except SimulatorError as err:
        fail(str(err))
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(render_text(result, notify_url))
