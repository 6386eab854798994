"""The proof harness: the real stack, a workload, the recovery wait and the checks.

A :class:`Stack` is one private ``redis-server`` (AOF, fsync always), one
receiver process, worker pools (``stripay-hooks worker --processes N``, each a
process group of its own) and the Stripay simulator over real HTTP, all on
127.0.0.1. :class:`Workload` drives orders through their statuses in the
simulator, which signs and POSTs a notification on every change and retries
on Stripay's schedule. :meth:`Stack.recover` waits until the dust has
settled, :meth:`Stack.verdict` compares every order with the simulator and
reads the transitions stream, and :func:`report` prints the figures.

Every wait is bounded and raises ``AssertionError`` saying what it waited
for; every process started here is stopped by :meth:`Stack.close`.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import redis
from rq import Queue
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from rq.worker_registration import WORKERS_BY_QUEUE_KEY

from shared.embedded_redis import EmbeddedRedis, free_port
from shared.jobs import QUEUE_NAME, RQ_INTERMEDIATE_KEY
from shared.keys import TRANSITIONS_STREAM, seen_key
from shared.notification import identity_of
from shared.order_store import OrderStore
from shared.queue_metrics import read_queue_state
from shared.settings import Settings
from tests.support.payloads import MERCHANT_KEY
from tests.support.receiver import ReceiverProcess
from tests.support.simulator import SimulatorThread
from tests.support.worker import worker_env

# Compressed schedules for the workers and the jobs the receiver writes.
RETRY_S = (1, 1, 2, 3, 5)
RECHECK_S = (1, 2, 3)
API_TIMEOUT_S = 5.0  # above the 2 s latency of the slow-API fault
POLL_S = 0.25
WORKER_THREADS = 4  # jobs at once per worker process (`--threads`): threads race as processes do
STOP_TIMEOUT_S = 30.0
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# One line per scenario, printed in pytest's terminal summary (tests/proof/conftest.py),
# and the sums over the scenarios that ran.
SUMMARY: list[str] = []
TOTALS: Counter[str] = Counter()


def wait_until(what: str, condition: Callable[[], bool], timeout_s: float, poll_s: float = POLL_S) -> float:
    """Poll ``condition`` until it holds; return the seconds it took. Fails naming ``what``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(poll_s)
    return time.monotonic() - started


def scrape(url: str, name: str, label: str) -> dict[str, float] | None:
    """Every sample of ``name`` in a Prometheus text exposition, by the value of ``label``;
    None when nothing answers at ``url``."""
    try:
        with NO_PROXY.open(url, timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return None
    pattern = re.compile(rf'^{re.escape(name)}\{{[^}}]*{re.escape(label)}="([^"]*)"[^}}]*\}} (\S+)$', re.MULTILINE)
    return {found.group(1): float(found.group(2)) for found in pattern.finditer(text)}


# --- processes ---------------------------------------------------------------------------------------------


def children_of(pid: int) -> list[int]:
    """Live pids whose parent is ``pid`` (read from /proc; zombies not yet reaped are left out)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces: the fields after its closing parenthesis are plain.
        state, parent = stat.rsplit(")", 1)[1].split()[:2]
        if int(parent) == pid and state not in ("Z", "X"):
            found.append(int(entry))
    return found


class WorkerPool:
    """One ``stripay-hooks worker --processes N`` process group with its metrics port."""

    def __init__(self, settings: Settings, processes: int, log_path: Path, threads: int = 1) -> None:
        self.metrics_port = free_port()
        env = worker_env(settings)
        # The pool's multiprocess metrics files next to its log, not in a new temporary directory per start.
        env["PROMETHEUS_MULTIPROC_DIR"] = str(log_path.with_suffix(".metrics"))
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cli", "worker", "--processes", str(processes), "--threads", str(threads),
                 "--metrics-port", str(self.metrics_port)],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.pgid = self.process.pid
        # ``stripay_reconcile_total`` by outcome, read last before the pool stopped or was killed
        # (a pool's counters die with it; those of its killed workers stay in its metrics dir).
        self.counters_seen: dict[str, float] = {}
        self.recovered_seen: dict[str, float] = {}  # ``stripay_recovered_jobs_total`` by reason
        self.metrics_read = False

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def alive(self) -> bool:
        return self.process.poll() is None

    def workers(self) -> list[int]:
        return children_of(self.process.pid) if self.alive() else []

    def remember_metrics(self) -> None:
        counters = scrape(self.metrics_url, "stripay_reconcile_total", "outcome") if self.alive() else None
        if counters is not None:
            self.counters_seen = counters
            self.metrics_read = True
            self.recovered_seen = scrape(self.metrics_url, "stripay_recovered_jobs_total", "reason") or {}

    def kill(self) -> None:
        """SIGKILL the whole process group: the pool, its workers and their schedulers."""
        self.remember_metrics()
        self._signal_group(signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT_S)

    def stop(self) -> None:
        """SIGTERM: running jobs finish; then any process left in the group (an orphaned
        scheduler of a killed worker) gets SIGTERM, and SIGKILL if it lingers."""
        self.remember_metrics()
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.process.wait(timeout=STOP_TIMEOUT_S)
        self._signal_group(signal.SIGTERM)
        deadline = time.monotonic() + 5
        while self._group_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        self._signal_group(signal.SIGKILL)

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pgid, sig)
        except ProcessLookupError:
            pass

    def _group_alive(self) -> bool:
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            return False
        return True


# --- the workload ------------------------------------------------------------------------------------------


PATHS: tuple[tuple[float, tuple[str, ...]], ...] = (
    # (share, statuses after pending); the shares add up to 1
    (0.50, ("completed",)),
    (0.15, ("completed", "refunded")),
    (0.10, ("completed", "disputed")),
    (0.05, ("completed", "disputed", "refunded")),
    (0.05, ("completed", "disputed", "completed")),  # dispute lost by the buyer: back to completed
    (0.15, ("rejected",)),
)


@dataclass
class OrderPlan:
    order_id: int
    path: tuple[str, ...]
    mode: str  # normal | duplicate | out_of_order
    copies: int = 1


@dataclass
class Workload:
    """Orders driven through their paths, paced at ``steps_per_s`` status changes a second.

    Each order gets a notify mode: ``normal``; ``duplicate`` (every notification sent 2 or 3
    times, each copy with its own retries, racing each other); ``out_of_order`` (the order's
    notifications are held, then released newest first, so its ``refunded`` arrives before its
    ``completed``). The steps of normal and duplicate orders are spread over the run, interleaved
    with other orders' steps; an out-of-order order's steps are taken back to back and released
    at once. The simulator's mode is global and read at each status change, so the driver
    switches it as it goes."""

    sim: SimulatorThread
    notify_url: str
    orders: int
    seed: int = 8
    steps_per_s: float = 100.0
    plans: list[OrderPlan] = field(default_factory=list)
    steps: list[tuple[OrderPlan, str]] = field(default_factory=list)
    steps_done: int = 0
    error: BaseException | None = None
    _thread: threading.Thread | None = None

    @property
    def total_steps(self) -> int:
        return len(self.steps)

    def create_orders(self) -> None:
        rng = random.Random(self.seed)
        timed: list[tuple[float, int, int, OrderPlan, str]] = []
        for _ in range(self.orders):
            order = self.sim.create_order(notifyUrl=self.notify_url, amount=round(rng.uniform(1, 500), 2))
            pick, path = rng.random(), PATHS[-1][1]
            for share, candidate in PATHS:
                if pick < share:
                    path = candidate
                    break
                pick -= share
            pick = rng.random()
            mode, copies = ("normal", 1) if pick < 0.45 else ("duplicate", rng.choice((2, 3))) if pick < 0.75 \
                else ("out_of_order", 1)
            plan = OrderPlan(order["id"], path, mode, copies)
            self.plans.append(plan)
            at = rng.random()
            for index, status in enumerate(path):
                timed.append((at, plan.order_id, index, plan, status))
                if mode != "out_of_order":
                    at += rng.uniform(0.02, 0.3)
        self.steps = [(plan, status) for _, _, _, plan, status in sorted(timed, key=lambda item: item[:3])]

    def start(self) -> "Workload":
        if not self.plans:
            self.create_orders()
        self._thread = threading.Thread(target=self._run, name="proof-workload", daemon=True)
        self._thread.start()
        return self

    def wait_progress(self, share: float, timeout_s: float = 120.0) -> None:
        """Block until ``share`` of the steps are driven."""
        wait_until(f"{share:.0%} of the workload", lambda: self.steps_done >= share * self.total_steps or
                   self._failed(), timeout_s, poll_s=0.05)

    def join(self, timeout_s: float = 300.0) -> None:
        assert self._thread is not None
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise AssertionError(f"the workload did not finish in {timeout_s:g} s")
        self._failed()

    def _failed(self) -> bool:
        if self.error is not None:
            raise AssertionError(f"the workload failed: {self.error!r}") from self.error
        return False

    def _run(self) -> None:
        try:
            started = time.monotonic()
            mode: tuple[str, int] | None = None
            for plan, status in self.steps:
                if mode != (plan.mode, plan.copies):
                    if mode is not None and mode[0] == "out_of_order":
                        self.sim.release()
                    mode = (plan.mode, plan.copies)
                    self.sim.set_notify_mode(*mode)
                self.sim.set_status(plan.order_id, status)
                self.steps_done += 1
                ahead_s = self.steps_done / self.steps_per_s - (time.monotonic() - started)
                if ahead_s > 0:
                    time.sleep(ahead_s)
            if mode is not None and mode[0] == "out_of_order":
                self.sim.release()
            self.sim.set_notify_mode("normal")
        except BaseException as err:  # noqa: BLE001 - reported by join/wait_progress
            self.error = err


# --- the stack ---------------------------------------------------------------------------------------------


@dataclass
class Verdict:
    scenario: str
    orders: int
    sent: int
    acknowledged: int
    duplicates: int
    duplicates_note: str
    transitions: int
    mismatches: int | None
    mismatches_note: str
    lost: int
    unacknowledged: int
    problems: list[str]
    seconds: float

    def line(self) -> str:
        mismatches = "0 (worker metrics unavailable)" if self.mismatches is None else str(self.mismatches)
        return (f"{self.scenario}: orders={self.orders} sent={self.sent} acknowledged={self.acknowledged} "
                f"duplicates={self.duplicates}{self.duplicates_note} transitions={self.transitions} "
                f"mismatches={mismatches}{self.mismatches_note} lost={self.lost} ({self.seconds:.0f} s)")


class Stack:
    """Redis, receiver, worker pools and the simulator for one scenario; a context manager."""

    def __init__(self, scenario: str, log_dir: Path, time_scale: float, worker_processes: int = 2,
                 worker_threads: int = WORKER_THREADS,
                 api_timeout_s: float = API_TIMEOUT_S, receiver_env: dict[str, str] | None = None) -> None:
        self.scenario = scenario
        self.log_dir = log_dir
        self.started = time.monotonic()
        self.worker_processes = worker_processes
        self.worker_threads = worker_threads
        self.redis_server = EmbeddedRedis(data_dir=str(log_dir / "redis"))
        (log_dir / "redis").mkdir(exist_ok=True)
        self.sim = SimulatorThread(MERCHANT_KEY, time_scale=time_scale, max_log_entries=1_000_000)
        self.pools: list[WorkerPool] = []
        self.receiver: ReceiverProcess | None = None
        self.duplicates_before_restarts = 0.0
        self.receiver_restarts = 0
        self.api_timeout_s = api_timeout_s
        self.redis: redis.Redis | None = None
        self.receiver_env = receiver_env or {}

    # lifecycle

    def __enter__(self) -> "Stack":
        try:
            self.redis_server.start()
            self.redis = redis.Redis.from_url(self.redis_server.url, socket_timeout=5, socket_connect_timeout=2)
            self.sim.start()
            self.settings = Settings(merchant_keys=(MERCHANT_KEY,), redis_url=self.redis_server.url,
                                     api_url=self.sim.url, retry_s=RETRY_S, recheck_s=RECHECK_S,
                                     api_timeout_s=self.api_timeout_s)
            self.receiver = ReceiverProcess(self.settings, extra_env=self.receiver_env,
                                            log_path=str(self.log_dir / "receiver.log")).start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for pool in self.pools:
            pool.stop()
        if self.receiver is not None:
            self.receiver.stop()
        self.sim.stop()
        if self.redis is not None:
            self.redis.close()
        self.redis_server.stop()

    def workload(self, orders: int, **options: Any) -> Workload:
        """``orders`` orders to drive; each scenario gets its own (fixed) random seed."""
        assert self.receiver is not None
        options.setdefault("seed", zlib.crc32(self.scenario.encode()))
        return Workload(self.sim, self.receiver.notify_url, orders, **options)

    # workers

    def start_pool(self, processes: int | None = None) -> WorkerPool:
        pool = WorkerPool(self.settings, processes or self.worker_processes,
                          self.log_dir / f"worker-{len(self.pools) + 1}.log", threads=self.worker_threads)
        self.pools.append(pool)
        return pool

    def live_pools(self) -> list[WorkerPool]:
        return [pool for pool in self.pools if pool.alive()]

    def worker_pids(self) -> set[int]:
        """Pids of the worker processes of every live pool."""
        return {pid for pool in self.live_pools() for pid in pool.workers()}

    def busy_workers(self) -> list[tuple[int, str]]:
        """(pid, job id) of every live worker of our pools running a job, from RQ's worker registry
        (a killed worker's entry still says busy until it expires, so the pid must be alive)."""
        assert self.redis is not None
        alive = self.worker_pids()
        busy = []
        for key in self.redis.smembers(WORKERS_BY_QUEUE_KEY % QUEUE_NAME):
            state = self.redis.hgetall(key)
            if state.get(b"state") == b"busy" and state.get(b"current_job") and int(state.get(b"pid", 0)) in alive:
                busy.append((int(state[b"pid"]), state[b"current_job"].decode()))
        return busy

    def busy_processes(self) -> set[int]:
        """Pids of the live worker processes with at least one thread on a job."""
        return {pid for pid, _ in self.busy_workers()}

    def stop_workers(self) -> None:
        for pool in self.pools:
            pool.stop()

    # the receiver

    def restart_receiver(self, kill: bool = True) -> None:
        assert self.receiver is not None
        self.duplicates_before_restarts += self.receiver_duplicates() or 0.0
        self.receiver_restarts += 1
        self.receiver.restart(kill=kill)

    def receiver_duplicates(self) -> float | None:
        assert self.receiver is not None
        results = scrape(self.receiver.metrics_url, "stripay_notifications_total", "result")
        return None if results is None else results.get("duplicate", 0.0)

    # recovery

    def queue_state(self) -> dict[str, float]:
        assert self.redis is not None
        return read_queue_state(self.redis)

    def quiet(self) -> bool:
        """Nothing queued or scheduled, and no live worker on a job (the started registry may
        still hold jobs of killed workers)."""
        try:
            state = self.queue_state()
            return state["queued"] == 0 and state["scheduled"] == 0 and not self.busy_workers()
        except redis.exceptions.RedisError:
            return False

    # --- recovery: the service's own, with the clock running (nothing here hands a job back) ---

    def settled(self) -> bool:
        """:meth:`quiet`, and no job left behind by a killed worker: the started registry and RQ's
        intermediate list are empty (the workers' recovery pass hands such jobs back)."""
        assert self.redis is not None
        try:
            state = self.queue_state()
            return self.quiet() and state["started"] == 0 and self.redis.llen(RQ_INTERMEDIATE_KEY) == 0
        except redis.exceptions.RedisError:
            return False

    def wait_deliveries_done(self, timeout_s: float) -> float:
        """Until the simulator has nothing held and no delivery in flight (acknowledged or given up)."""
        def done() -> bool:
            state = self.sim.notify_state()
            return state["held"] == 0 and state["in_flight"] == 0

        return wait_until("the simulator's deliveries to finish", done, timeout_s)

    def recover(self, deliveries_timeout_s: float = 120.0, drain_timeout_s: float = 120.0) -> dict[str, float]:
        """Let the system recover by itself, then stop every worker. Returns what each phase took.

        1. every notification of the simulator is acknowledged or given up;
        2. a pool runs (a new one is started if every pool was killed, as an operator would);
        3. the workers drain the queue and the scheduled retries, and hand back the jobs of killed
           workers themselves (:mod:`worker.recovery`), until nothing is left behind;
        4. all workers stop (SIGTERM: running jobs finish).

        ``abandoned`` and ``stuck_dequeued`` are the jobs the workers handed back (from the started
        registry, from RQ's intermediate list), read from their counters.
        """
        timings = {"deliveries_s": self.wait_deliveries_done(deliveries_timeout_s)}
        if not self.live_pools():
            self.start_pool()
        timings["drain_s"] = wait_until("the workers to drain the queue and hand back every job of a killed worker",
                                        self.settled, drain_timeout_s)
        self.stop_workers()
        recovered = self.recovered_jobs()
        timings.update(abandoned=recovered.get("lease_expired", 0.0), stuck_dequeued=recovered.get("stuck_dequeued", 0.0))
        return timings

    def recovered_jobs(self) -> dict[str, float]:
        """``stripay_recovered_jobs_total`` by reason, summed over the pools (as last read)."""
        for pool in self.live_pools():
            pool.remember_metrics()
        totals: Counter[str] = Counter()
        for pool in self.pools:
            totals.update(pool.recovered_seen)
        return dict(totals)

    def orders_applied(self, workload: Workload) -> bool:
        """Every order of ``workload`` is stored in the simulator's (the API's) current state."""
        store = OrderStore(self.redis)
        try:
            for plan in workload.plans:
                stored, order = store.get(plan.order_id), self.sim.order(plan.order_id)
                if stored is None or (stored.status, stored.updated_at) != (order["status"], order["updatedAt"]):
                    return False
        except redis.exceptions.RedisError:
            return False
        return True

    def last_applied_at(self, workload: Workload) -> float:
        """The wall-clock time (epoch s) the last order of ``workload`` was applied."""
        store = OrderStore(self.redis)
        return max(datetime.fromisoformat(store.get(plan.order_id).applied_at).timestamp()
                   for plan in workload.plans)

    # the checks

    def _dump(self, lost: list[tuple[Any, ...]], by_order: dict[int, list[dict[str, str]]],
              deliveries: list[dict[str, Any]], store: OrderStore) -> None:
        """What a failed check needs for a diagnosis, next to the processes' logs."""
        orders = sorted({item[0] for item in lost})[:20]
        dump = {
            str(order_id): {
                "simulator": self.sim.order(order_id),
                "stored": None if store.get(order_id) is None else store.get(order_id).as_json(),
                "published": by_order.get(order_id, []),
                "deliveries": [{k: v for k, v in entry.items() if k != "payload"} | {
                    "updatedAt": entry["payload"]["updatedAt"]} for entry in deliveries if entry["order_id"] == order_id],
            }
            for order_id in orders
        }
        (self.log_dir / "problems.json").write_text(json.dumps(dump, indent=1, default=str))

    def verdict(self, workload: Workload) -> Verdict:
        assert self.redis is not None
        problems: list[str] = []
        deliveries = self.sim.deliveries()
        acknowledged = [entry for entry in deliveries if entry["ok"]]

        # Every notification (each copy) was acknowledged in the end: the retries outlasted the fault.
        attempts: dict[tuple[Any, ...], bool] = {}
        for entry in deliveries:
            key = (entry["order_id"], entry["status"], entry["payload"]["updatedAt"], entry["copy"])
            attempts[key] = attempts.get(key, False) or entry["ok"]
        unacknowledged = [key for key, ok in attempts.items() if not ok]
        if unacknowledged:
            problems.append(f"{len(unacknowledged)} notifications never acknowledged, e.g. {unacknowledged[:3]}")

        # Nothing acknowledged is lost: its identity is remembered and its job ran to the end
        # (unless the scenario shortened the receiver's memory on purpose).
        unfinished = []
        for payload in {json.dumps(e["payload"], sort_keys=True): e["payload"] for e in acknowledged}.values():
            job_id = self.redis.get(seen_key(identity_of(payload)))
            if job_id is None:
                if "STRIPAY_DEDUPE_TTL_S" not in self.receiver_env:
                    unfinished.append((payload["id"], payload["status"], "not remembered"))
                continue
            job = Job.fetch(job_id.decode(), connection=self.redis, serializer=JSONSerializer)
            if job.get_status() != JobStatus.FINISHED:
                unfinished.append((payload["id"], payload["status"], job.get_status()))
        if unfinished:
            problems.append(f"{len(unfinished)} acknowledged notifications not finished, e.g. {unfinished[:3]}")

        state = self.queue_state()
        state["dequeued"] = self.redis.llen(Queue(QUEUE_NAME, connection=self.redis).intermediate_queue_key)
        if any(state[name] for name in ("queued", "scheduled", "started", "failed", "dequeued")):
            problems.append(f"RQ not empty after recovery: {state}")

        # Every order: stored state equals the simulator's (the API's) state.
        store = OrderStore(self.redis)
        truth = {plan.order_id: self.sim.order(plan.order_id) for plan in workload.plans}
        lost = []
        for order_id, order in truth.items():
            stored = store.get(order_id)
            if stored is None or (stored.status, stored.updated_at) != (order["status"], order["updatedAt"]):
                lost.append((order_id, order["status"], None if stored is None else stored.status))

        # Every transition published once, chained, forwards, and ending in the final status.
        entries = self.redis.xrange(TRANSITIONS_STREAM)
        event_ids = Counter(fields[b"event_id"].decode() for _, fields in entries)
        repeated = [event_id for event_id, count in event_ids.items() if count > 1]
        if repeated:
            problems.append(f"{len(repeated)} event_ids published more than once, e.g. {repeated[:3]}")
        by_order: dict[int, list[dict[str, str]]] = defaultdict(list)
        for _, fields in entries:
            decoded = {k.decode(): v.decode() for k, v in fields.items()}
            by_order[int(decoded["order_id"])].append(decoded)
        plans = {plan.order_id: plan for plan in workload.plans}
        for order_id, order in truth.items():
            published = by_order.get(order_id, [])
            if not published or published[-1]["to"] != order["status"]:
                problems.append(f"order {order_id}: last published transition {published[-1:]} "
                                f"is not to {order['status']}")
                continue
            chain_from = ""
            path = iter(plans[order_id].path)
            for item in published:
                if item["from"] != chain_from or item["to"] not in path:
                    problems.append(f"order {order_id}: transitions {[(i['from'], i['to']) for i in published]} "
                                    f"do not follow its path {plans[order_id].path}")
                    break
                chain_from = item["to"]
            history = [entry["event_id"] for entry in store.get(order_id).history]
            if history != [item["event_id"] for item in published]:
                problems.append(f"order {order_id}: history {history} differs from the stream")
        extra = set(by_order) - set(truth)
        if extra:
            problems.append(f"transitions for orders never driven: {sorted(extra)[:5]}")

        if lost or problems:
            self._dump(lost, by_order, deliveries, store)
        duplicates = self.duplicates_before_restarts + (self.receiver_duplicates() or 0.0)
        read = [pool for pool in self.pools if pool.metrics_read]
        mismatches = int(sum(pool.counters_seen.get("mismatch", 0) for pool in read)) if read else None
        killed = any(pool.process.returncode == -signal.SIGKILL for pool in self.pools)
        return Verdict(
            scenario=self.scenario,
            orders=len(truth),
            sent=len(deliveries),
            acknowledged=len(acknowledged),
            duplicates=int(duplicates),
            duplicates_note=" (at least: a killed receiver's counter is read just before the kill)"
            if self.receiver_restarts else "",
            transitions=len(entries),
            mismatches=mismatches,
            mismatches_note=" (at least: a killed pool's counter is read just before the kill)" if killed else "",
            lost=len(lost),
            unacknowledged=len(unacknowledged),
            problems=problems + ([f"{len(lost)} orders differ from the API, e.g. {lost[:5]}"] if lost else []),
            seconds=time.monotonic() - self.started,
        )


def report(verdict: Verdict, forged: bool = False, **extra: Any) -> None:
    """Record the scenario's summary line, then assert the verdict. Without ``forged``
    notifications every one is Stripay's own, so none may disagree with the API's order at
    its own version or a newer one (``stripay_reconcile_total{outcome="mismatch"}`` stays 0)."""
    details = " ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in extra.items())
    SUMMARY.append(verdict.line() + (f" [{details}]" if details else ""))
    TOTALS.update(scenarios=1, sent=verdict.sent, acknowledged=verdict.acknowledged, transitions=verdict.transitions,
                  lost=verdict.lost, orders=verdict.orders)
    shown = verdict.problems[:10] + [f"... and {len(verdict.problems) - 10} more"] * (len(verdict.problems) > 10)
    assert verdict.lost == 0, shown
    assert not verdict.problems, shown
    if not forged:
        assert not verdict.mismatches, f"{verdict.mismatches} genuine notifications counted as mismatches"


@contextmanager
def periodic(action: Callable[[], None], every_s: float) -> Iterator[None]:
    """Run ``action`` every ``every_s`` seconds in a thread while the block runs; its first error
    is raised when the block ends."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def loop() -> None:
        while not stop.wait(every_s):
            try:
                action()
            except BaseException as err:  # noqa: BLE001 - re-raised below
                errors.append(err)
                return

    thread = threading.Thread(target=loop, name="proof-periodic", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(30)
    if errors:
        raise errors[0]
