"""End to end: notify-to-transition latency of the whole stack at steady offered rates.

    python bench/end_to_end.py            # 6 rates x 10 s, about 3 minutes
    python bench/end_to_end.py --quick    # 6 rates x 3 s, about 1.5 minutes
    python bench/end_to_end.py --rates 100,200 --spread   # nothing pinned: all processes share all cores

Real processes, all on 127.0.0.1: Redis (``EmbeddedRedis``: AOF,
``appendfsync always``), the receiver (``python -m cli receiver``), a worker
pool (``python -m cli worker --processes 2 --threads 16``) and the Stripay simulator
(``python -m cli simulator``) answering ``/v1/order`` after 50 ms. The
simulator holds completed orders whose own notifications are dropped; an
open-loop generator sends each order's signed notification to the receiver on
a fixed schedule. Latency runs from a notification's *scheduled* send time to
the ``applied_at`` of its transition in the ``stripay:transitions`` stream,
read after the run. By default the receiver and the workers share one core
and Redis, the simulator and the generator the other; ``--spread`` pins
nothing, as on a real host. Also the receiver's ack latency, and Redis memory per
remembered event and per stored order. Prints tables and writes the figures
to ``bench/results/end_to_end.json``; ``main(argv)`` returns them. See
bench/README.md for what each figure means.
"""

from __future__ import annotations

import sys
from pathlib import Path

# As in bench/receiver.py: never bench/ itself on sys.path (it would shadow the
# ``receiver`` package), the repository root instead.
_ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator, Sequence  # noqa: E402
from contextlib import ExitStack, contextmanager  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import datetime  # noqa: E402
from typing import Any  # noqa: E402

import redis  # noqa: E402

from bench._common import (  # noqa: E402
    BENCH_MERCHANT_KEY,
    HOST,
    SimulatorProcess,
    child_pids,
    core_busy_seconds,
    cpu_seconds,
    free_port,
    machine_meta,
    median_memory_usage,
    percentile,
    pin,
    print_table,
    reset_redis,
    run_load,
    service_env,
    spawn,
    start_worker_pool,
    stop,
    stop_group,
    usable_cpus,
    used_memory_without_clients,
    wait_http,
    write_bodies,
    write_results,
)

RESULTS = _ROOT / "bench" / "results" / "end_to_end.json"
NOTIFY_PATH = "/stripay/notify"
ORDER_ENDPOINT = "/v1/order"
QUEUE_KEY = "rq:queue:stripay"
WORKERS_KEY = "rq:workers:stripay"
TRANSITIONS = "stripay:transitions"
TARGET_RATE = 100.0
TARGET_P99_MS = 250.0
POLL_S = 0.1
LOGGING_NOTE = "receiver and workers log as production does (JSON lines), stderr to /dev/null"


@dataclass
class Options:
    rates: tuple[float, ...]
    duration_s: float
    drain_s: float  # how long after the last send to wait for transitions
    processes: int
    latency_ms: float
    connections: int
    sized_processes: int  # 0: no extra run
    sized_rate: float
    output: Path | None
    threads: int = 1  # jobs at once per worker process (`--threads`)
    spread: bool = False  # no pinning: every process on any core, as on a real 2-core host


@dataclass
class Stack:
    redis: redis.Redis
    redis_url: str
    redis_pid: int
    sim: SimulatorProcess
    receiver_port: int
    receiver_pid: int
    service_cpu: int | None
    load_cpu: int | None
    bodies: list[bytes]  # one signed notification per order, in order-id order
    order_ids: list[int]


@contextmanager
def _receiver(redis_url: str, api_url: str, cpu: int | None) -> Iterator[tuple[int, int]]:
    port = free_port()
    env = service_env(redis_url, api_url, PORT=str(port), METRICS_PORT=str(free_port()))
    proc = spawn([sys.executable, "-m", "cli", "receiver"], cpu, env=env)
    try:
        wait_http(port, "/healthz", proc)
        yield port, proc.pid
    finally:
        stop(proc)


@contextmanager
def _worker_pool(stack: Stack, processes: int, cpu: int | None, threads: int = 1) -> Iterator[subprocess.Popen[bytes]]:
    """A running (not burst) pool of ``processes`` processes of ``threads`` workers each, registered with
    Redis before it yields."""
    metrics_dir = tempfile.mkdtemp(prefix="bench-metrics-")
    env = service_env(stack.redis_url, stack.sim.url, PROMETHEUS_MULTIPROC_DIR=metrics_dir)
    proc = start_worker_pool(env, processes, cpu, burst=False, metrics_port=free_port(), threads=threads)
    try:
        deadline = time.monotonic() + 30 + 2 * processes
        while int(stack.redis.scard(WORKERS_KEY)) < processes * threads:
            if proc.poll() is not None:
                raise RuntimeError(f"the worker pool exited with {proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{processes} workers did not register within 30 s")
            time.sleep(POLL_S)
        # Registered is not ready: each worker is ready once it waits for a job.
        while not all(state == b"idle" for state in _worker_states(stack.redis)):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{processes} workers were not waiting for jobs within 30 s")
            time.sleep(POLL_S)
        yield proc
    finally:
        stop_group(proc)
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _worker_states(client: redis.Redis) -> list[bytes | None]:
    names = client.smembers(WORKERS_KEY)
    return [client.hget(name, "state") for name in names]  # type: ignore[misc]


def _cpu(stack: Stack, pool_pid: int, workers: list[int]) -> tuple[float, float, float, float]:
    """CPU seconds so far of the receiver, of the pool (its monitor and its workers), busy time of their core
    and of every core."""
    return (cpu_seconds(stack.receiver_pid), sum(cpu_seconds(pid) for pid in [pool_pid, *workers]),
            core_busy_seconds(stack.service_cpu), sum(core_busy_seconds(cpu) for cpu in usable_cpus()))


def _iso_seconds(value: bytes) -> float:
    return datetime.fromisoformat(value.decode().replace("Z", "+00:00")).timestamp()


def _latency_figures(latencies_s: list[float], sent: int) -> dict[str, Any]:
    """Percentiles over every notification sent, those never applied counting as infinitely late."""
    ordered = sorted(latencies_s) + [math.inf] * (sent - len(latencies_s))

    def ms(q: float) -> float | None:
        value = percentile(ordered, q)
        return None if math.isinf(value) or math.isnan(value) else round(value * 1000, 1)

    return {"p50_ms": ms(50), "p99_ms": ms(99), "max_ms": ms(100),
            "applied_p50_ms": round(percentile(sorted(latencies_s), 50) * 1000, 1) if latencies_s else None,
            "applied_p99_ms": round(percentile(sorted(latencies_s), 99) * 1000, 1) if latencies_s else None}


def run_rate(stack: Stack, options: Options, rate: float, processes: int, pinned: bool = True,
             threads: int | None = None) -> dict[str, Any]:
    """One open-loop run at ``rate`` notifications/s through a fresh pool of ``processes`` workers
    (``pinned``: on the receiver's core, else on any core)."""
    count = int(rate * options.duration_s)
    if count > len(stack.bodies):
        raise ValueError(f"{count} notifications but only {len(stack.bodies)} orders")
    reset_redis(stack.redis)
    threads = options.threads if threads is None else threads
    with _worker_pool(stack, processes, stack.service_cpu if pinned else None, threads) as pool:
        workers = child_pids(pool.pid)
        memory_before = used_memory_without_clients(stack.redis)
        cpu_before = _cpu(stack, pool.pid, workers)
        path = write_bodies(stack.bodies[:count])
        try:
            load = run_load(stack.receiver_port, NOTIFY_PATH, path, cpu=stack.load_cpu,
                            connections=options.connections, duration_s=options.duration_s, rate=rate)
        finally:
            path.unlink()
        sending_ended = time.monotonic()
        backlog_at_end = int(stack.redis.llen(QUEUE_KEY))
        accepted = load.requests - load.non_200
        deadline = sending_ended + options.drain_s
        while int(stack.redis.xlen(TRANSITIONS)) < accepted and time.monotonic() < deadline:
            time.sleep(POLL_S)
        drained_s = time.monotonic() - sending_ended
        cpu_after = _cpu(stack, pool.pid, workers)
        entries: Any = stack.redis.xrange(TRANSITIONS, "-", "+", count=count + 10)
        applied_count = len(entries)
        memory = _memory(stack.redis, memory_before, applied_count) if applied_count >= accepted else None
    start_wall = float(load.extra["start_wall"])
    index = {order_id: i for i, order_id in enumerate(stack.order_ids[:count])}
    latencies, applied_at = [], []
    for _entry_id, fields in entries:
        i = index.get(int(fields[b"order_id"]))
        if i is None:
            continue
        at = _iso_seconds(fields[b"applied_at"])
        applied_at.append(at)
        latencies.append(at - (start_wall + i / rate))
    applied_span = (max(applied_at) - start_wall) if applied_at else math.nan
    receiver_s, workers_s, core_s, machine_s = (a - b for a, b in zip(cpu_after, cpu_before))
    elapsed_s = load.seconds + drained_s
    figures = {
        "offered_rate": rate,
        "processes": processes,
        "threads": threads,
        "sent": count,
        "answered_200": accepted,
        "non_200": load.non_200,
        "errors": load.errors,
        "applied": len(latencies),
        "applied_fraction": round(len(latencies) / count, 4) if count else None,
        "applied_per_s": round(len(latencies) / applied_span, 1) if applied_span > 0 else None,
        "backlog_when_sending_ended": backlog_at_end,
        "waited_after_sending_s": round(drained_s, 2),
        "notify_to_transition": _latency_figures(latencies, count),
        "ack": {"p50_ms": round(load.p50_ms, 2), "p99_ms": round(load.p99_ms, 2), "max_ms": round(load.max_ms, 2)},
        "generator_lag_p99_ms": round(load.send_lateness_p99_ms or 0.0, 2),
        "receiver_cpu_us_per_notification": round(receiver_s / max(count, 1) * 1e6, 1),
        "worker_cpu_us_per_transition": round(workers_s / max(len(latencies), 1) * 1e6, 1),
        "workers_pinned": pinned and stack.service_cpu is not None,
        "service_core_busy": round(core_s / elapsed_s, 3) if pinned and stack.service_cpu is not None else None,
        # Anything but the receiver and the workers on their core (other processes, kernel): noise.
        "service_core_busy_other": round(max(0.0, core_s - receiver_s - workers_s) / elapsed_s, 3)
        if pinned and stack.service_cpu is not None else None,
        "machine_busy": round(machine_s / elapsed_s / max(len(usable_cpus()), 1), 3),
        "memory": memory,
    }
    return figures


def _memory(client: redis.Redis, before: int, orders: int) -> dict[str, Any]:
    """Redis bytes per notification once every transition is applied."""
    after = used_memory_without_clients(client)
    stream_bytes = int(client.memory_usage(TRANSITIONS, samples=0) or 0)
    order = median_memory_usage(client, "stripay:order:*")
    history = median_memory_usage(client, "stripay:history:*")
    return {
        "orders": orders,
        "used_memory_delta_bytes": after - before,
        "used_memory_delta_per_order": round((after - before) / max(orders, 1), 1),
        "seen_key": median_memory_usage(client, "stripay:seen:*"),
        "order_hash": order,
        "history_list": history,
        "stream_bytes_per_entry": round(stream_bytes / max(orders, 1), 1),
        "stored_order_total": round(order + history + stream_bytes / max(orders, 1), 1),
        "rq_job_hash": median_memory_usage(client, "rq:job:*"),
        "rq_result_stream": median_memory_usage(client, "rq:results:*"),
        "rq_finished_registry_per_job": round(int(client.memory_usage("rq:finished:stripay", samples=0) or 0)
                                              / max(orders, 1), 1),
    }


# --- the whole bench -----------------------------------------------------------------


def _run(options: Options) -> dict[str, Any]:
    from shared.embedded_redis import EmbeddedRedis
    from simulator.notifier import notification_payload

    cpus = usable_cpus()
    service_cpu, load_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 and not options.spread else (None, None)
    rates = list(options.rates)
    orders_needed = int(max(rates + [options.sized_rate if options.sized_processes else 0]) * options.duration_s)
    results: dict[str, Any] = {}
    with ExitStack() as es:
        embedded = es.enter_context(EmbeddedRedis())
        assert embedded.process is not None
        redis_pinned = pin(embedded.process.pid, load_cpu)
        client = es.enter_context(redis.Redis.from_url(embedded.url))
        sim = es.enter_context(SimulatorProcess(load_cpu))
        sim.set_latency(ORDER_ENDPOINT, options.latency_ms / 1000)
        receiver_port, receiver_pid = es.enter_context(_receiver(embedded.url, sim.url, service_cpu))
        placement = ("every process on any core" if service_cpu is None else
                     f"receiver and workers on cpu {service_cpu}; Redis, simulator and load generator on cpu {load_cpu}")
        print(f"{placement}; /v1/order answers after {options.latency_ms:g} ms; {LOGGING_NOTE}", flush=True)
        print(f"creating {orders_needed:,} completed orders in the simulator (their notifications dropped)", flush=True)
        notify_url = f"http://{HOST}:{receiver_port}{NOTIFY_PATH}"
        orders = sim.create_orders(orders_needed, status="completed", notifyUrl=notify_url)
        bodies = [json.dumps(notification_payload({k: v for k, v in o.items() if k != "notifyUrl"},
                                                  BENCH_MERCHANT_KEY), separators=(",", ":")).encode()
                  for o in orders]
        stack = Stack(client, embedded.url, embedded.process.pid, sim, receiver_port, receiver_pid, service_cpu,
                      load_cpu, bodies, [int(o["id"]) for o in orders])
        results["meta"] = _meta(options, client, service_cpu, load_cpu, redis_pinned)
        # Warm up: byte-code caches, connections, the simulator's first requests.
        warm = Options(**{**options.__dict__, "duration_s": 1.0, "drain_s": 5.0})
        run_rate(stack, warm, 20.0, options.processes)

        results["runs"] = []
        for rate in rates:
            result = run_rate(stack, options, rate, options.processes)
            results["runs"].append(result)
            _progress(result)
        if options.sized_processes:
            result = run_rate(stack, options, options.sized_rate, options.sized_processes, pinned=False, threads=1)
            results["sized_run"] = result
            _progress(result)
        # Memory from the largest run in which every notification was applied.
        measured = [r["memory"] for r in [*results["runs"], results.get("sized_run")] if r and r["memory"]]
        results["memory"] = max(measured, key=lambda m: m["orders"]) if measured else None
    results["meta"]["loadavg_after"] = machine_meta()["loadavg"]
    results["capacity"] = _capacity(results, options)
    results["targets"] = _targets(results, options)
    return results


def _progress(r: dict[str, Any]) -> None:
    n2t = r["notify_to_transition"]
    print(f"  {r['offered_rate']:>5g}/s, {r['processes']} worker processes: applied {r['applied']:,}/{r['sent']:,} "
          f"({r['applied_per_s'] or 0:,.0f}/s)  notify->transition p50 {_ms(n2t['p50_ms'])} p99 {_ms(n2t['p99_ms'])}"
          f"  ack p99 {r['ack']['p99_ms']:.1f} ms  backlog at end of sending {r['backlog_when_sending_ended']:,}",
          flush=True)


def _ms(value: float | None) -> str:
    return "not applied in time" if value is None else f"{value:,.0f} ms"


def _capacity(results: dict[str, Any], options: Options) -> dict[str, Any]:
    """What the pool can apply per second, from the overloaded runs, against 1/latency per process."""
    overloaded = [r["applied_per_s"] for r in results["runs"] if r["applied_fraction"] < 1 and r["applied_per_s"]]
    return {
        "bound_per_process_per_s": round(options.threads * 1000 / options.latency_ms, 1) if options.latency_ms else None,
        "bound_for_pool_per_s": round(options.processes * options.threads * 1000 / options.latency_ms, 1)
        if options.latency_ms else None,
        "measured_applied_per_s_when_overloaded": max(overloaded) if overloaded else None,
    }


def _targets(results: dict[str, Any], options: Options) -> dict[str, Any]:
    targets: dict[str, Any] = {}
    for rate in (TARGET_RATE, 2 * TARGET_RATE):
        at = next((r for r in results["runs"] if r["offered_rate"] == rate), None)
        if at is not None:
            p99 = at["notify_to_transition"]["p99_ms"]
            targets[f"p99_under_250ms_at_{rate:g}_per_s_{options.processes}proc_{options.threads}thr"] = {
                "value": p99, "met": p99 is not None and p99 < TARGET_P99_MS}
    sized = results.get("sized_run")
    if sized is not None and sized["offered_rate"] == TARGET_RATE:
        p99 = sized["notify_to_transition"]["p99_ms"]
        targets[f"p99_under_250ms_at_100_per_s_{sized['processes']}proc"] = {
            "value": p99, "met": p99 is not None and p99 < TARGET_P99_MS}
    return targets


def _meta(options: Options, client: redis.Redis, service_cpu: int | None, load_cpu: int | None,
          redis_pinned: bool) -> dict[str, Any]:
    return {
        **machine_meta(("aiohttp", "redis", "rq", "urllib3", "structlog")),
        "redis_server": client.info("server")["redis_version"],
        "spread": options.spread,
        "pinning": {"receiver_and_workers": service_cpu, "simulator_and_generator": load_cpu,
                    "redis": load_cpu if redis_pinned else None},
        "duration_s": options.duration_s,
        "drain_s": options.drain_s,
        "worker_processes": options.processes,
        "worker_threads": options.threads,
        "api_latency_ms": options.latency_ms,
        "connections": options.connections,
        "redis_config": "EmbeddedRedis: appendonly yes, appendfsync always",
        "logging": LOGGING_NOTE,
        "figures": "one run per rate; latency from each notification's scheduled send time; percentiles over "
                   "every notification sent, those not applied within drain_s after the last send counting as "
                   "infinitely late (null)",
    }


# --- output -------------------------------------------------------------------------


def _print(results: dict[str, Any]) -> None:
    meta = results["meta"]
    runs = [*results["runs"], *([results["sized_run"]] if results.get("sized_run") else [])]
    print_table(f"Notify to transition, /v1/order at {meta['api_latency_ms']:g} ms, {meta['duration_s']:g} s per rate, "
                f"waiting up to {meta['drain_s']:g} s after the last send",
                ("offered/s", "processes x threads", "applied", "applied/s", "p50 ms", "p99 ms", "ack p50 ms", "ack p99 ms",
                 "backlog at end", "worker CPU us/transition", "generator lag p99 ms", "service core busy",
                 "others on it", "machine busy"),
                [(f"{r['offered_rate']:g}", f"{r['processes']} x {r.get('threads', 1)}", f"{r['applied_fraction']:.0%}", r["applied_per_s"] or "-",
                  _cell_ms(r["notify_to_transition"]["p50_ms"]), _cell_ms(r["notify_to_transition"]["p99_ms"]),
                  r["ack"]["p50_ms"], r["ack"]["p99_ms"], r["backlog_when_sending_ended"],
                  r["worker_cpu_us_per_transition"], r["generator_lag_p99_ms"], _share(r["service_core_busy"]),
                  _share(r["service_core_busy_other"]), _share(r.get("machine_busy"))) for r in runs])
    cap = results["capacity"]
    if cap["bound_for_pool_per_s"]:
        print("\n  A worker thread runs one job at a time: at most threads/latency = "
              f"{cap['bound_per_process_per_s']:g} "
              f"reconciles/s per process, {cap['bound_for_pool_per_s']:g}/s for {meta['worker_processes']} processes "
              f"(measured when overloaded: {cap['measured_applied_per_s_when_overloaded'] or '-'}/s). Above that the "
              "queue grows for as long as the load lasts, and latency with it.")
    mem = results.get("memory")
    if mem:
        print_table(f"Redis memory ({mem['orders']:,} notifications, each a new order, all applied)",
                    ("bytes", "value"),
                    [("MEMORY USAGE stripay:seen:* (remembered event, 72 h)", mem["seen_key"]),
                     ("MEMORY USAGE stripay:order:* hash", mem["order_hash"]),
                     ("MEMORY USAGE stripay:history:* list", mem["history_list"]),
                     ("stripay:transitions stream / entry", mem["stream_bytes_per_entry"]),
                     ("stored order (hash + history + stream entry)", mem["stored_order_total"]),
                     ("MEMORY USAGE rq:job:* hash (finished, kept result_ttl, 1 h)", mem["rq_job_hash"]),
                     ("MEMORY USAGE rq:results:* stream (kept result_ttl, 1 h)", mem["rq_result_stream"]),
                     ("used_memory delta / notification (all of it)", mem["used_memory_delta_per_order"])])
    print_table("Targets (report only)", ("target", "value", "met"),
                [(name, t["value"] if t["value"] is not None else "not applied in time", "yes" if t["met"] else "NO")
                 for name, t in results["targets"].items()])
    print(f"\n{LOGGING_NOTE}; load average before/after: {meta['loadavg']} / {meta['loadavg_after']}")


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _cell_ms(value: float | None) -> object:
    return "> window" if value is None else value


# --- command line -------------------------------------------------------------------


def _parse(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(prog="bench/end_to_end.py", description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="defaults of 3 s per rate, 4 s drain wait")
    parser.add_argument("--rates", default="10,20,50,100,200,400",
                        help="offered notifications/s, default 10,20,50,100,200,400")
    parser.add_argument("--duration", type=float, help="seconds of sending per rate, default 10")
    parser.add_argument("--drain", type=float, help="seconds to wait for transitions after the last send, default 15")
    parser.add_argument("--processes", type=int, default=2, help="worker processes, default 2")
    parser.add_argument("--threads", type=int, default=16, help="jobs at once per worker process, default 16")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="injected /v1/order latency, default 50")
    parser.add_argument("--connections", type=int, default=32, help="generator connections, default 32")
    parser.add_argument("--spread", action="store_true",
                        help="pin nothing: receiver, workers, Redis, simulator and generator share every core")
    parser.add_argument("--sized-processes", type=int, default=0,
                        help="one more run at --sized-rate with this many single-threaded worker processes, allowed "
                             "on every core (0: none), default 0")
    parser.add_argument("--sized-rate", type=float, default=TARGET_RATE, help="default 100")
    parser.add_argument("--output", default=str(RESULTS), help="JSON file, '-' for none")
    args = parser.parse_args(list(argv))
    defaults = (3.0, 4.0) if args.quick else (10.0, 15.0)
    for name, default in zip(("duration", "drain"), defaults):
        if getattr(args, name) is None:
            setattr(args, name, default)
    rates = tuple(float(r) for r in args.rates.split(",") if r.strip())
    if not rates or min(rates) <= 0 or args.duration <= 0 or args.drain < 0 or args.processes < 1 or args.threads < 1:
        parser.error("rates and --duration must be > 0, --drain >= 0, --processes >= 1")
    if max(rates) * args.duration > 50_000:
        parser.error("at most 50,000 notifications per rate")
    return Options(rates, args.duration, args.drain, args.processes, args.latency_ms, args.connections,
                   args.sized_processes, args.sized_rate, None if args.output == "-" else Path(args.output), args.threads,
                   args.spread)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the bench, print the tables, write the JSON (unless ``--output -``) and return the figures."""
    options = _parse(sys.argv[1:] if argv is None else argv)
    results = _run(options)
    _print(results)
    write_results(results, options.output)
    return results


if __name__ == "__main__":
    main()
