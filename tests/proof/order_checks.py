"""What the merchant and same-second scenarios share: a stack serving two merchants, the waits
until every order is stored as the simulator has it, and the per-order checks.

Kept apart from :mod:`tests.proof.harness` (whose recovery parts change on their own): it
uses only :class:`~tests.proof.harness.Stack`'s lifecycle, pools, queue state and
:func:`~tests.proof.harness.wait_until`. Nothing here recovers anything: the service's own
workers, with the clock running, must bring every order to the API's state.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from shared.jobs import QUEUE_NAME
from shared.keys import TRANSITIONS_STREAM
from shared.order_store import OrderStore
from tests.proof.harness import SUMMARY, TOTALS, Stack, wait_until
from tests.support.merchants import KEY_B, MERCHANT_B, write_merchants_file
from tests.support.payloads import MERCHANT_KEY
from tests.support.simulator import SimulatorThread


class TwoMerchantStack(Stack):
    """The proof stack with a simulator serving two merchants (ids counted across them) and
    receiver and workers configured with ``STRIPAY_MERCHANTS_FILE`` (merchant 1 also as the
    default ``STRIPAY_MERCHANT_KEY``). The worker pools inherit the file's path from the
    environment (set by the scenario with ``monkeypatch`` before it starts a pool)."""

    def __init__(self, scenario: str, log_dir: Path, time_scale: float, **options: Any) -> None:
        merchants_file = write_merchants_file(log_dir / "merchants.toml")
        super().__init__(scenario, log_dir, time_scale, receiver_env={"STRIPAY_MERCHANTS_FILE": str(merchants_file)},
                         **options)
        self.merchants_file = merchants_file
        self.sim = SimulatorThread(MERCHANT_KEY, time_scale=time_scale, max_log_entries=1_000_000,
                                   other_merchants=((MERCHANT_B, KEY_B),))


def store_matches(stack: Stack, order_ids: list[int]) -> list[str]:
    """Orders whose stored status, updatedAt or merchant differ from the simulator's (empty: all match)."""
    assert stack.redis is not None
    store = OrderStore(stack.redis)
    wrong = []
    for order_id in order_ids:
        truth = stack.sim.order(order_id)
        stored = store.get(order_id)
        got = None if stored is None else (stored.status, stored.updated_at, stored.state.get("merchantId"))
        if got != (truth["status"], truth["updatedAt"], truth["merchantId"]):
            wrong.append(f"order {order_id}: stored {got}, Stripay {truth['status']} {truth['updatedAt']} "
                         f"merchant {truth['merchantId']}")
    return wrong


def wait_applied(stack: Stack, order_ids: list[int], timeout_s: float = 60.0) -> float:
    """Until the queue is quiet and every order is stored as the simulator has it; the seconds it took."""
    return wait_until(f"{len(order_ids)} orders stored as Stripay has them",
                      lambda: stack.quiet() and not store_matches(stack, order_ids), timeout_s)


def history(stack: Stack, order_id: int) -> list[str]:
    assert stack.redis is not None
    stored = OrderStore(stack.redis).get(order_id)
    return [] if stored is None else [entry["to"] for entry in stored.history]


def published(client: redis.Redis) -> dict[int, list[str]]:
    """The statuses each order moved to, in the order the transitions stream has them."""
    moves: dict[int, list[str]] = {}
    for _, fields in client.xrange(TRANSITIONS_STREAM):
        moves.setdefault(int(fields[b"order_id"]), []).append(fields[b"to"].decode())
    return moves


def failed_jobs(client: redis.Redis) -> list[Job]:
    registry = FailedJobRegistry(QUEUE_NAME, connection=client, serializer=JSONSerializer)
    return [job for job in Job.fetch_many(registry.get_job_ids(), connection=client, serializer=JSONSerializer)
            if job is not None]


def run_cli(stack: TwoMerchantStack, *args: str) -> Any:
    """A real ``stripay-hooks`` command with the stack's settings; its JSON output."""
    env = dict(os.environ)
    env.update({"REDIS_URL": stack.settings.redis_url or "", "STRIPAY_API_URL": stack.settings.api_url,
                "STRIPAY_MERCHANT_KEY": MERCHANT_KEY, "STRIPAY_MERCHANTS_FILE": str(stack.merchants_file),
                "STRIPAY_API_TIMEOUT_S": str(stack.settings.api_timeout_s)})
    done = subprocess.run([sys.executable, "-m", "cli", *args, "--json"], env=env, capture_output=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return json.loads(done.stdout)


def summary(scenario: str, started: float, **figures: Any) -> None:
    """One line in the proof suite's end-of-run summary."""
    details = " ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
    SUMMARY.append(f"{scenario}: {details} ({time.monotonic() - started:.0f} s)")
    TOTALS.update(scenarios=1, orders=int(figures.get("orders", 0)))
