"""Worker throughput: reconciles per second per worker process and thread count, next to RQ's own no-op job.

    python bench/worker.py            # 3 rounds, about 4 minutes
    python bench/worker.py --quick    # 1 round of smaller runs, about 40 s
    python bench/worker.py --quick --processes 1 --threads 1,4,16,32   # threads per process

Starts its own Redis (``EmbeddedRedis``: AOF, ``appendfsync always``) and the
Stripay simulator (``python -m cli simulator``), both pinned to one core, and
pre-creates completed orders in the simulator. Each run empties Redis,
enqueues one notification per order with the receiver's own enqueue (or as many
no-op jobs, written alike), then runs ``stripay-hooks worker --processes N
--threads K --burst`` pinned to the other core until the queue is drained. The
no-op jobs run on RQ's own ``rq worker-pool`` of stock ``SimpleWorker``s (the
service's workers run only the service's jobs): RQ's cost per job, the
baseline. Throughput is taken from the job hashes: jobs over the time from
the first job's ``started_at`` to the last one's ``ended_at``, so the pool's
start-up is left out. Also the largest resident memory of one worker process.
Prints tables and writes the figures to ``bench/results/worker.json``;
``main(argv)`` returns them. See bench/README.md for what each figure means.
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
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from contextlib import ExitStack  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import datetime  # noqa: E402
from typing import Any  # noqa: E402

import redis  # noqa: E402

from bench._common import (  # noqa: E402
    BENCH_MERCHANT_KEY,
    SimulatorProcess,
    children_cpu_seconds,
    command_calls,
    core_busy_seconds,
    cpu_seconds,
    free_port,
    machine_meta,
    median,
    percentile,
    pin,
    print_table,
    spawn,
    reset_redis,
    service_env,
    start_worker_pool,
    stop_group,
    usable_cpus,
    write_results,
)
from bench.noop import NOOP_JOB  # noqa: E402

RESULTS = _ROOT / "bench" / "results" / "worker.json"
ORDER_ENDPOINT = "/v1/order"
TARGET_NOOP_FRACTION = 0.60
# One run may take at most this long past its expected duration before it is stopped.
RUN_SLACK_S = 120.0
LOGGING_NOTE = "workers log as production does (JSON lines, RQ at INFO), stderr to /dev/null"


@dataclass(frozen=True)
class Config:
    kind: str  # "reconcile" or "noop"
    latency_ms: float  # injected latency of the simulator's /v1/order (reconcile only)
    processes: int
    threads: int = 1  # jobs at once per process (`--threads`)

    @property
    def name(self) -> str:
        if self.kind == "noop":
            return f"RQ's own no-op job, rq worker-pool, {self.processes} proc"
        return f"reconcile, API {self.latency_ms:g} ms, {self.processes} proc x {self.threads} thr"


@dataclass
class Options:
    rounds: int
    jobs: int  # per run at 0 ms API latency and for the no-op job
    jobs_per_process_slow: int  # per worker process, runs with API latency
    processes: tuple[int, ...]
    latencies_ms: tuple[float, ...]
    output: Path | None
    threads: tuple[int, ...] = (1,)


@dataclass
class Bench:
    options: Options
    redis: redis.Redis
    redis_url: str
    redis_pid: int
    sim: SimulatorProcess
    worker_cpu: int | None
    payloads: list[dict[str, Any]]
    baseline: dict[int, dict[str, Any]] = field(default_factory=dict)

    def settings(self) -> Any:
        from shared.settings import Settings

        return Settings(merchant_keys=(BENCH_MERCHANT_KEY,), redis_url=self.redis_url, api_url=self.sim.url)

    def fill(self, kind: str, jobs: int) -> list[str]:
        """Enqueue ``jobs`` notifications (one per order) as reconcile or no-op jobs; their job ids."""
        from shared.jobs import build_job, enqueue
        from shared.notification_enqueuer import NotificationEnqueuer

        settings = self.settings()
        if jobs > len(self.payloads):
            raise ValueError(f"{jobs} jobs but only {len(self.payloads)} orders in the simulator")
        # Filling is not measured: let Redis fsync once a second meanwhile.
        self.redis.config_set("appendfsync", "everysec")
        ids = []
        try:
            if kind == "reconcile":
                queue = NotificationEnqueuer(self.redis, settings)
                for payload in self.payloads[:jobs]:
                    result = queue.enqueue(payload, time.time())
                    if not result.accepted:
                        raise RuntimeError(f"order {payload['id']}: enqueued twice")
                    ids.append(result.job_id)
            else:
                for payload in self.payloads[:jobs]:
                    job = build_job(NOOP_JOB, (payload, time.time(), "notify"), settings,
                                    description=f"reconcile order {payload['id']} (notify)")
                    enqueue(self.redis, job)
                    ids.append(job.id)
        finally:
            self.redis.config_set("appendfsync", "always")
        return ids

    def pool(self, processes: int, timeout_s: float, threads: int = 1, stock_rq: bool = False) -> dict[str, Any]:
        """Run ``stripay-hooks worker --processes N --threads K --burst`` until it exits by itself; what it used
        (with the largest resident memory of one worker process, sampled every 0.1 s)."""
        metrics_dir = tempfile.mkdtemp(prefix="bench-metrics-")
        env = service_env(self.redis_url, self.sim.url, PROMETHEUS_MULTIPROC_DIR=metrics_dir)
        sim_pid = self.sim.proc.pid if self.sim.proc is not None else -1
        self.redis.config_resetstat()
        before = (children_cpu_seconds(), cpu_seconds(self.redis_pid), cpu_seconds(sim_pid),
                  core_busy_seconds(self.worker_cpu), time.monotonic())
        if stock_rq:
            # RQ's own worker pool and SimpleWorker: the service's workers run only the service's jobs.
            proc = spawn([sys.executable, "-m", "rq.cli", "worker-pool", "--burst", "-n", str(processes), "-w",
                          "rq.worker.SimpleWorker", "-S", "json", "-P", ".", "-u", self.redis_url, "-q", "stripay"],
                         self.worker_cpu, env=env, new_session=True)
        else:
            proc = start_worker_pool(env, processes, self.worker_cpu, burst=True, metrics_port=free_port(),
                                     threads=threads)
        rss = RssSampler(proc.pid)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            stop_group(proc)
            raise RuntimeError(f"the worker pool did not drain the queue within {timeout_s:.0f} s") from None
        finally:
            rss.stop()
            shutil.rmtree(metrics_dir, ignore_errors=True)
        after = (children_cpu_seconds(), cpu_seconds(self.redis_pid), cpu_seconds(sim_pid),
                 core_busy_seconds(self.worker_cpu), time.monotonic())
        calls = command_calls(self.redis)
        workers_s, redis_s, sim_s, core_s, wall_s = (a - b for a, b in zip(after, before))
        if proc.returncode != 0:
            raise RuntimeError(f"the worker pool exited with {proc.returncode}")
        return {"wall_s": wall_s, "workers_cpu_s": workers_s, "redis_cpu_s": redis_s, "simulator_cpu_s": sim_s,
                "worker_core_busy_s": core_s, "calls": calls, "max_rss_mb": rss.max_mb}

    def measure_startup(self, processes: int, threads: int, stock_rq: bool = False) -> None:
        """An empty queue: what starting and stopping a pool of ``processes`` costs (subtracted below)."""
        reset_redis(self.redis)
        used = self.pool(processes, timeout_s=60, threads=threads, stock_rq=stock_rq)
        self.baseline[(processes, 0 if stock_rq else threads)] = used

    def run(self, config: Config, jobs: int | None = None) -> dict[str, Any]:
        if jobs is None:
            slow = self.options.jobs_per_process_slow * config.processes * config.threads
            jobs = self.options.jobs if config.latency_ms == 0 else slow
        reset_redis(self.redis)
        self.sim.set_latency(ORDER_ENDPOINT, config.latency_ms / 1000)
        ids = self.fill(config.kind, jobs)
        expected_s = jobs * max(config.latency_ms / 1000, 0.005) / config.processes
        used = self.pool(config.processes, timeout_s=expected_s + RUN_SLACK_S, threads=config.threads,
                         stock_rq=config.kind == "noop")
        return self._figures(config, ids, used)

    def _figures(self, config: Config, ids: list[str], used: dict[str, Any]) -> dict[str, Any]:
        from rq.job import Job

        rows = []
        with self.redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hmget(Job.key_for(job_id), "status", "started_at", "ended_at", "worker_name")
            rows = pipe.execute()
        statuses = Counter(_text(r[0]) for r in rows)
        done = [(_when(r[1]), _when(r[2]), _text(r[3])) for r in rows if _text(r[0]) == "finished"]
        jobs = len(ids)
        if not done:
            raise RuntimeError(f"{config.name}: no job finished ({dict(statuses)})")
        first_start = min(s for s, _, _ in done)
        last_end = max(e for _, e, _ in done)
        span_s = last_end - first_start
        durations = sorted(e - s for s, e, _ in done)
        per_worker = sorted(Counter(w for _, _, w in done).values(), reverse=True)
        base = self.baseline.get((config.processes, 0 if config.kind == "noop" else config.threads), {})
        worker_cpu_s = max(0.0, used["workers_cpu_s"] - base.get("workers_cpu_s", 0.0))
        calls = Counter(used["calls"])
        calls.subtract(base.get("calls", {}))
        total_calls = sum(v for v in calls.values() if v > 0)
        jobs_per_s = len(done) / span_s if span_s > 0 else float("nan")
        return {
            "kind": config.kind,
            "latency_ms": config.latency_ms,
            "processes": config.processes,
            "threads": config.threads,
            "jobs": jobs,
            "max_rss_mb_per_process": used["max_rss_mb"],
            "statuses": dict(statuses),
            "span_s": round(span_s, 3),
            "pool_wall_s": round(used["wall_s"], 3),
            "jobs_per_s": round(jobs_per_s, 1),
            "jobs_per_s_per_process": round(jobs_per_s / config.processes, 1),
            "job_ms_p50": round(percentile(durations, 50) * 1000, 3),
            "job_ms_p99": round(percentile(durations, 99) * 1000, 3),
            # Time per job in a worker process that is not the job function: RQ's dequeue and bookkeeping.
            "outside_job_ms_per_job": round((span_s * config.processes * config.threads / len(done) - sum(durations) / len(done))
                                            * 1000, 3),
            "jobs_per_worker": per_worker,
            "worker_cpu_us_per_job": round(worker_cpu_s / jobs * 1e6, 1),
            "worker_cpu_busy": round(worker_cpu_s / span_s, 3) if span_s > 0 else None,
            "redis_cpu_us_per_job": round(used["redis_cpu_s"] / jobs * 1e6, 1),
            "simulator_cpu_us_per_job": round(used["simulator_cpu_s"] / jobs * 1e6, 1),
            # Anything else on the workers' core during the pool's life (other processes, kernel): noise.
            "worker_core_busy_other": round(max(0.0, used["worker_core_busy_s"] - used["workers_cpu_s"])
                                            / used["wall_s"], 3),
            "redis_commands_per_job": round(total_calls / jobs, 2),
            "redis_commands": {name: round(n / jobs, 2) for name, n in calls.most_common() if n > 0},
        }


class RssSampler:
    """The largest resident memory (MB) of any child process of ``parent``, sampled in a thread."""

    def __init__(self, parent: int, every_s: float = 0.1) -> None:
        self.max_mb = 0.0
        self._parent = parent
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every_s,), daemon=True)
        self._thread.start()

    def _run(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            for pid in _children(self._parent):
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                for line in status.splitlines():
                    if line.startswith("VmRSS:"):
                        self.max_mb = max(self.max_mb, int(line.split()[1]) / 1024)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _children(parent: int) -> list[int]:
    try:
        return [int(pid) for pid in Path(f"/proc/{parent}/task/{parent}/children").read_text().split()]
    except OSError:
        return []


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def _when(value: object) -> float:
    """Seconds since the epoch of an RQ timestamp (``2024-05-01T10:00:07.123456Z``)."""
    return datetime.fromisoformat(_text(value).replace("Z", "+00:00")).timestamp()


# --- the whole bench -----------------------------------------------------------------


def _configs(options: Options) -> list[Config]:
    """Each process and thread count's no-op and reconcile runs back to back, so a burst of noise hits both."""
    return [c for n in options.processes
            for c in [Config("noop", 0.0, n, 1),
                      *(Config("reconcile", lat, n, k) for k in options.threads for lat in options.latencies_ms)]]


def _summary(runs: dict[Config, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    names = ("jobs_per_s", "jobs_per_s_per_process", "max_rss_mb_per_process", "job_ms_p50", "job_ms_p99", "outside_job_ms_per_job",
             "worker_cpu_us_per_job", "worker_cpu_busy", "redis_cpu_us_per_job", "simulator_cpu_us_per_job",
             "worker_core_busy_other", "redis_commands_per_job", "span_s", "pool_wall_s")
    out = []
    for config, rs in runs.items():
        figures = {name: round(median(r[name] for r in rs if r[name] is not None), 3) for name in names}
        out.append({"kind": config.kind, "latency_ms": config.latency_ms, "processes": config.processes,
                    "threads": config.threads, "name": config.name, "median": figures, "runs": rs})
    return out


def _find(summary: list[dict[str, Any]], kind: str, latency_ms: float, processes: int,
          threads: int = 1) -> dict[str, Any] | None:
    return next((s for s in summary if s["kind"] == kind and s["latency_ms"] == latency_ms
                 and s["processes"] == processes and s["threads"] == threads), None)


def _ratios(runs: dict[Config, list[dict[str, Any]]], options: Options) -> dict[str, Any]:
    """Reconcile at 0 ms over the no-op job, per process count: medians of per-round ratios of jobs/s,
    and (steadier on a shared machine) of the no-op's worker CPU per job over the reconcile's."""
    ratios = {}
    for n in options.processes:
        for k in options.threads:
            noop = runs.get(Config("noop", 0.0, n, 1), [])
            fast = runs.get(Config("reconcile", 0.0, n, k), [])
            tag = f"{n}proc" if k == 1 else f"{n}proc_{k}thr"
            if noop and fast:
                ratios[f"reconcile_0ms_vs_noop_{tag}"] = round(
                    median(a["jobs_per_s"] / b["jobs_per_s"] for a, b in zip(fast, noop)), 3)
                ratios[f"cpu_per_job_noop_over_reconcile_{tag}"] = round(
                    median(b["worker_cpu_us_per_job"] / a["worker_cpu_us_per_job"] for a, b in zip(fast, noop)), 3)
    return ratios


def _scaling(summary: list[dict[str, Any]], options: Options) -> dict[str, Any]:
    """Total jobs/s with N processes over jobs/s with the fewest, per kind and latency."""
    scaling: dict[str, Any] = {}
    least, fewest = min(options.processes), min(options.threads)
    for kind, lat in [("noop", 0.0)] + [("reconcile", lat) for lat in options.latencies_ms]:
        one = _find(summary, kind, lat, least, fewest)
        if one is None:
            continue
        key = "noop" if kind == "noop" else f"reconcile_{lat:g}ms"
        scaling[key] = {(str(n) if len(options.threads) == 1 else f"{n}x{k}"):
                        round(s["median"]["jobs_per_s"] / one["median"]["jobs_per_s"], 2)
                        for n in options.processes for k in options.threads
                        if (s := _find(summary, kind, lat, n, k)) is not None}
    return scaling


def _run(options: Options) -> dict[str, Any]:
    from shared.embedded_redis import EmbeddedRedis

    cpus = usable_cpus()
    worker_cpu, load_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)
    results: dict[str, Any] = {}
    configs = _configs(options)
    orders_needed = max(options.jobs, options.jobs_per_process_slow * max(options.processes) * max(options.threads))
    with ExitStack() as stack:
        embedded = stack.enter_context(EmbeddedRedis())
        assert embedded.process is not None
        redis_pinned = pin(embedded.process.pid, load_cpu)
        client = stack.enter_context(redis.Redis.from_url(embedded.url))
        sim = stack.enter_context(SimulatorProcess(load_cpu))
        print(f"workers on cpu {worker_cpu}; Redis and the simulator on cpu {load_cpu}; {LOGGING_NOTE}", flush=True)
        print(f"creating {orders_needed:,} completed orders in the simulator", flush=True)
        from simulator.notifier import notification_payload

        payloads = [notification_payload({k: v for k, v in o.items() if k != "notifyUrl"}, BENCH_MERCHANT_KEY)
                    for o in sim.create_orders(orders_needed, status="completed")]
        bench = Bench(options, client, embedded.url, embedded.process.pid, sim, worker_cpu, payloads)
        results["meta"] = _meta(options, client, worker_cpu, load_cpu, redis_pinned)
        # Warm up (byte-code caches, the simulator's first requests), then what a pool's start and stop cost.
        bench.run(Config("reconcile", 0.0, 1), jobs=min(options.jobs, 200))
        for n in options.processes:
            bench.measure_startup(n, 1, stock_rq=True)
            for k in options.threads:
                bench.measure_startup(n, k)
        results["pool_startup"] = {
            f"{n}x{k}": {"wall_s": round(b["wall_s"], 3), "workers_cpu_s": round(b["workers_cpu_s"], 3),
                     "redis_commands": sum(b["calls"].values())}
            for (n, k), b in bench.baseline.items() if k}
        runs: dict[Config, list[dict[str, Any]]] = {c: [] for c in configs}
        for round_no in range(options.rounds):
            for config in configs:
                result = bench.run(config)
                runs[config].append(result)
                print(f"  round {round_no + 1}: {config.name:<32} {result['jobs_per_s']:>7,.0f} jobs/s "
                      f"({result['jobs_per_s_per_process']:>6,.1f} per process)  "
                      f"worker CPU {result['worker_cpu_us_per_job']:>6,.0f} us/job  "
                      f"Redis cmds {result['redis_commands_per_job']:5.1f}/job  "
                      f"others on its core {result['worker_core_busy_other']:.0%}", flush=True)
                bad = {k: v for k, v in result["statuses"].items() if k != "finished"}
                if bad:
                    print(f"  warning: {config.name}: jobs not finished: {bad}", file=sys.stderr)
        summary = _summary(runs)
        results["runs"] = summary
        results["ratios"] = _ratios(runs, options)
        results["scaling"] = _scaling(summary, options)
    results["meta"]["loadavg_after"] = machine_meta()["loadavg"]
    results["targets"] = _targets(results, options)
    return results


def _targets(results: dict[str, Any], options: Options) -> dict[str, Any]:
    least = min(options.processes)
    ratio = results["ratios"].get(f"reconcile_0ms_vs_noop_{least}proc")
    targets: dict[str, Any] = {}
    if ratio is not None:
        targets[f"reconcile_at_least_60pct_of_noop_per_process_{least}proc"] = {
            "value": ratio, "met": ratio >= TARGET_NOOP_FRACTION}
    return targets


def _meta(options: Options, client: redis.Redis, worker_cpu: int | None, load_cpu: int | None,
          redis_pinned: bool) -> dict[str, Any]:
    return {
        **machine_meta(("rq", "redis", "urllib3", "aiohttp", "structlog", "prometheus-client")),
        "redis_server": client.info("server")["redis_version"],
        "pinning": {"workers": worker_cpu, "simulator": load_cpu, "redis": load_cpu if redis_pinned else None},
        "rounds": options.rounds,
        "jobs_per_run_0ms": options.jobs,
        "jobs_per_process_with_latency": options.jobs_per_process_slow,
        "redis_config": "EmbeddedRedis: appendonly yes, appendfsync always (everysec while filling the queue)",
        "logging": LOGGING_NOTE,
        "figures": "median over rounds; throughput from the first job's started_at to the last job's ended_at; "
                   "ratios are medians of per-round ratios; CPU and Redis commands per job net of an empty "
                   "pool's start and stop",
    }


# --- output -------------------------------------------------------------------------


def _print(results: dict[str, Any]) -> None:
    meta = results["meta"]
    rows = []
    for s in results["runs"]:
        m = s["median"]
        rows.append((s["name"], m["jobs_per_s"], m["jobs_per_s_per_process"], m["job_ms_p50"],
                     m["outside_job_ms_per_job"], m["worker_cpu_us_per_job"], m["redis_commands_per_job"],
                     m["simulator_cpu_us_per_job"], m["max_rss_mb_per_process"], f"{m['worker_core_busy_other']:.0%}"))
    print_table(f"Burst runs of `stripay-hooks worker --processes N --threads K --burst`, workers on one core, "
                f"median of {meta['rounds']}",
                ("run", "jobs/s", "per process", "in job ms p50", "outside job ms/job", "worker CPU us/job",
                 "Redis cmds/job", "simulator CPU us/job", "RSS MB/process", "others on its core"), rows)
    ratios = results["ratios"]
    counts = [k.removeprefix("reconcile_0ms_vs_noop_") for k in ratios if k.startswith("reconcile_0ms_vs_noop_")]
    print_table("Reconcile at 0 ms API latency against RQ's own no-op job (medians of per-round ratios)",
                ("processes (x threads)", "jobs/s ratio", "CPU/job: no-op over reconcile"),
                [(c, ratios[f"reconcile_0ms_vs_noop_{c}"], ratios[f"cpu_per_job_noop_over_reconcile_{c}"])
                 for c in counts])
    scaling = results["scaling"]
    counts = sorted({n for v in scaling.values() for n in v}, key=lambda n: tuple(int(p) for p in n.split("x")))
    print_table("Scaling: total jobs/s over jobs/s with the fewest processes", ("run", *counts),
                [(k, *(v.get(n, float("nan")) for n in counts)) for k, v in scaling.items()])
    top = next((s for s in results["runs"] if s["kind"] == "reconcile" and s["latency_ms"] == 0), None)
    noop = next((s for s in results["runs"] if s["kind"] == "noop"), None)
    if top and noop:
        rec, nop = top["runs"][0]["redis_commands"], noop["runs"][0]["redis_commands"]
        names = [n for n in dict.fromkeys([*rec, *nop]) if max(rec.get(n, 0.0), nop.get(n, 0.0)) >= 0.5]
        print_table(f"Redis commands per job, those run by scripts included ({top['processes']} process, first round)",
                    ("command", "reconcile 0 ms", "no-op"),
                    [(n, rec.get(n, 0.0), nop.get(n, 0.0)) for n in names]
                    + [("all", top["runs"][0]["redis_commands_per_job"], noop["runs"][0]["redis_commands_per_job"])])
    print_table("Targets (report only)", ("target", "value", "met"),
                [(name, t["value"], "yes" if t["met"] else "NO") for name, t in results["targets"].items()])
    slow = [s for s in results["runs"] if s["kind"] == "reconcile" and s["latency_ms"] > 0]
    for s in slow:
        bound = 1000 / s["latency_ms"]
        print(f"  {s['name']}: {s['median']['jobs_per_s_per_process']:.1f}/s per process; one thread runs one "
              f"job at a time, so at most threads/latency = {bound * s['threads']:.0f}/s per process")
    print(f"\n{LOGGING_NOTE}; load average before/after: {meta['loadavg']} / {meta['loadavg_after']}")


# --- command line -------------------------------------------------------------------


def _numbers(text: str, kind: type) -> tuple[Any, ...]:
    return tuple(kind(part) for part in text.split(",") if part.strip())


def _parse(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(prog="bench/worker.py", description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true",
                        help="defaults of 1 round, 250 jobs per 0 ms run, 25 jobs per process with latency")
    parser.add_argument("--rounds", type=int, help="default 3")
    parser.add_argument("--jobs", type=int, help="jobs per run at 0 ms API latency and for the no-op job, default 500")
    parser.add_argument("--jobs-per-process-slow", type=int,
                        help="jobs per worker process in runs with API latency, default 60")
    parser.add_argument("--processes", default="1,2,4", help="worker process counts, default 1,2,4")
    parser.add_argument("--latency-ms", default="0,50", help="injected /v1/order latencies, default 0,50")
    parser.add_argument("--threads", default="1,16", help="jobs at once per process (`--threads`), e.g. 1,4,16,32; "
                        "default 1,16")
    parser.add_argument("--output", default=str(RESULTS), help="JSON file, '-' for none")
    args = parser.parse_args(list(argv))
    defaults = (1, 250, 25) if args.quick else (3, 500, 60)
    for name, default in zip(("rounds", "jobs", "jobs_per_process_slow"), defaults):
        if getattr(args, name) is None:
            setattr(args, name, default)
    processes = _numbers(args.processes, int)
    threads = _numbers(args.threads, int)
    latencies = _numbers(args.latency_ms, float)
    if not processes or min(processes) < 1 or not latencies or min(latencies) < 0 or not threads or min(threads) < 1:
        parser.error("--processes and --threads need counts >= 1 and --latency-ms latencies >= 0")
    if args.rounds < 1 or args.jobs < 1 or args.jobs_per_process_slow < 1:
        parser.error("--rounds, --jobs and --jobs-per-process-slow must be >= 1")
    return Options(args.rounds, args.jobs, args.jobs_per_process_slow, processes, latencies,
                   None if args.output == "-" else Path(args.output), threads)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the bench, print the tables, write the JSON (unless ``--output -``) and return the figures."""
    options = _parse(sys.argv[1:] if argv is None else argv)
    results = _run(options)
    write_results(results, options.output)
    _print(results)
    return results


if __name__ == "__main__":
    main()
