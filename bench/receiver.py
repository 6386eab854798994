"""Receiver throughput, ack latency and Redis memory per event, next to a bare aiohttp handler.

    python bench/receiver.py            # full run, about 4 minutes
    python bench/receiver.py --quick    # one round of shorter runs, about 1 minute
    python bench/receiver.py --coredis  # also the receiver with its enqueue on coredis (pip install coredis)
    python bench/receiver.py --tls      # also the receiver over rediss:// (Redis then listens on both)

Starts its own Redis (``EmbeddedRedis``: AOF, ``appendfsync always``), three
server processes pinned to one core (the receiver, a bare handler answering
``OK``, and the "RQ ``Queue.enqueue`` in a thread" alternative; with
``--coredis`` and ``--tls`` the receiver's enqueue on coredis and the receiver
over TLS too) and drives them over 127.0.0.1 from a load generator pinned to
the other core (wrk when on PATH, else the Python generator of
``bench._common``). Prints tables and writes the figures to
``bench/results/receiver.json``; ``main(argv)`` returns them. See
bench/README.md for what each figure means.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as ``python bench/receiver.py`` (or imported from a script in bench/), the
# bench/ directory is on sys.path and this file would shadow the ``receiver``
# package: keep the repository root instead.
_ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import importlib.util  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator, Sequence  # noqa: E402
from contextlib import ExitStack, contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import redis  # noqa: E402

from bench._common import (  # noqa: E402
    HOST, LoadResult, core_busy_seconds, cpu_seconds, free_port, have_wrk, machine_meta, median, median_of, pin,
    print_table, run_load, spawn, stop, usable_cpus, wait_http, write_bodies,
)

MERCHANT_KEY = "bench-merchant-key-0123456789abcdef"
NOTIFY_PATH = "/stripay/notify"
QUEUE_KEY = "rq:queue:stripay"
RESULTS = _ROOT / "bench" / "results" / "receiver.json"
SERVER_KINDS = ("bare", "receiver", "thread_enqueue")
COREDIS = "receiver_coredis"
TLS = "receiver_tls"
LABELS = {
    "bare": "bare aiohttp handler (OK)",
    "receiver": "receiver, unique notifications",
    COREDIS: "receiver, enqueue on coredis",
    TLS: "receiver, Redis over TLS",
    "receiver_dup3": "receiver, each delivered 3x",
    "thread_enqueue": "parse+verify, Queue.enqueue in a thread",
}
TARGET_BARE_FRACTION = 0.20
TARGET_VS_THREAD = 2.0
TARGET_P99_MS = 10.0
LATENCY_MONITOR_MS = 2  # Redis records events (one fsync, one command) slower than this
LOGGING_NOTE = "servers log as production does: configure_logging(json_lines=True), stderr to /dev/null"


# --- the servers, each in a process of its own ---------------------------------------


def serve(argv: Sequence[str]) -> None:
    """Entry point of a server process: ``kind port redis_url``."""
    from aiohttp import web

    from shared.logging import configure_logging
    from shared.settings import Settings

    kind, port, redis_url = argv[0], int(argv[1]), argv[2]
    if kind == "bare":
        app = _bare_app()
    else:
        configure_logging(json_lines=True)
        settings = Settings(merchant_keys=(MERCHANT_KEY,), redis_url=redis_url, host=HOST, port=port)
        if kind in ("receiver", COREDIS, TLS):
            from receiver.app import create_app

            app = create_app(settings)
            if kind == COREDIS:
                app.cleanup_ctx.append(_enqueue_on_coredis)
        else:
            app = _thread_enqueue_app(settings)
    # As cli/receiver_cmd.py runs the receiver.
    web.run_app(app, host=HOST, port=port, print=None, access_log=None, shutdown_timeout=1.0)


def _bare_app() -> Any:
    from aiohttp import web

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="OK", content_type="text/plain")

    app = web.Application()
    app.router.add_post(NOTIFY_PATH, ok)
    app.router.add_get("/healthz", ok)
    return app


def _thread_enqueue_app(settings: Any) -> Any:
    """The receiver's parse, verify, metrics and log line, then RQ's stock ``Queue.enqueue``
    in a thread (same job options). No dedupe: strictly less Redis work than the receiver."""
    import redis.exceptions
    from aiohttp import web
    from rq import Callback, Queue
    from rq.serializers import JSONSerializer

    from shared import metrics
    from shared.acceptance import NotificationRejected, accept_notification
    from shared.jobs import FAILURE_CALLBACK, QUEUE_NAME, RECONCILE_JOB, retry_policy
    from shared.logging import get_logger
    from shared.redis_client import sync_client

    log = get_logger("bench.thread_enqueue")
    queue = Queue(QUEUE_NAME, connection=sync_client(settings.redis_url), serializer=JSONSerializer)
    retry = retry_policy(settings)

    def answer(result: str, http_status: int, text: str, started: float, **fields: object) -> web.Response:
        ack_s = time.perf_counter() - started
        metrics.notifications_total.labels(result=result).inc()
        metrics.notify_ack_seconds.observe(ack_s)
        log.info("notification", result=result, http_status=http_status, ack_ms=round(ack_s * 1000, 3), **fields)
        return web.Response(status=http_status, text=text, content_type="text/plain")

    async def notify(request: web.Request) -> web.Response:
        started, received_at = time.perf_counter(), time.time()
        raw = await request.read()
        try:
            notification = accept_notification(raw, request.content_type, settings.keys_for)
        except NotificationRejected as err:
            return answer("rejected", 400, err.reason, started)
        payload, order_id = notification.payload, notification.order_id
        fields = {"order_id": order_id, "merchant_order_id": payload.get("merchantOrderId"),
                  "status": payload.get("status")}
        try:
            job = await asyncio.to_thread(
                queue.enqueue, RECONCILE_JOB, payload, received_at, "notify",
                job_timeout=settings.job_timeout_s, result_ttl=settings.result_ttl_s,
                failure_ttl=settings.failure_ttl_s, retry=retry, on_failure=Callback(FAILURE_CALLBACK),
                description=f"reconcile order {order_id} (notify)",
            )
        except redis.exceptions.RedisError:
            return answer("unavailable", 503, "temporarily unavailable", started, **fields)
        return answer("accepted", 200, "OK", started, job_id=job.id, **fields)

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(client_max_size=settings.max_body_bytes)
    app.router.add_post(NOTIFY_PATH, notify)
    app.router.add_get("/healthz", healthz)
    return app


class CoredisScript:
    """The enqueue script on coredis 6's connection pool, which multiplexes concurrent
    commands on one connection: the maintained-client alternative to shared/script_pipe.py,
    with the same timeouts and NOSCRIPT repair (EVAL once)."""

    def __init__(self, url: str, script: str) -> None:
        import hashlib

        import coredis

        from shared.redis_client import CONNECT_TIMEOUT_S, SOCKET_TIMEOUT_S

        self._no_script = coredis.exceptions.NoScriptError
        self._client = coredis.Redis.from_url(url, stream_timeout=SOCKET_TIMEOUT_S,
                                              connect_timeout=CONNECT_TIMEOUT_S)
        self._script = script
        self._sha = hashlib.sha1(script.encode()).hexdigest()
        self._stop = asyncio.Event()
        self._owner: asyncio.Future[None] | None = None

    async def start(self) -> None:
        # coredis 6 clients live inside ``async with`` (an anyio task group): one task owns it.
        ready = asyncio.Event()

        async def own() -> None:
            async with self._client:
                ready.set()
                await self._stop.wait()

        self._owner = asyncio.ensure_future(own())
        await asyncio.wait([self._owner, asyncio.ensure_future(ready.wait())], return_when=asyncio.FIRST_COMPLETED)
        if self._owner.done():
            self._owner.result()

    async def __call__(self, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        try:
            return await self._client.evalsha(self._sha, keys, args)
        except self._no_script:
            return await self._client.eval(self._script, keys, args)

    async def close(self) -> None:
        self._stop.set()
        if self._owner is not None:
            await self._owner


async def _enqueue_on_coredis(app: Any) -> Any:
    """The receiver as created by ``create_app``, its enqueue script run by :class:`CoredisScript`."""
    from receiver.appkeys import ENQUEUER, SETTINGS
    from shared.jobs import ENQUEUE_NOTIFICATION_SCRIPT

    script = CoredisScript(app[SETTINGS].redis_url, ENQUEUE_NOTIFICATION_SCRIPT)
    await script.start()
    queue = app[ENQUEUER]
    await queue._script.close()  # noqa: SLF001 - the transport swapped for this comparison only
    queue._script = script  # noqa: SLF001
    yield
    await script.close()


@dataclass(frozen=True)
class Server:
    port: int
    pid: int


@contextmanager
def _server(kind: str, redis_url: str, cpu: int | None) -> Iterator[Server]:
    port = free_port()
    code = "import sys; from bench.receiver import serve; serve(sys.argv[1:])"
    proc = spawn([sys.executable, "-c", code, kind, str(port), redis_url], cpu)
    try:
        wait_http(port, "/healthz", proc)
        yield Server(port, proc.pid)
    finally:
        stop(proc)


# --- notifications -----------------------------------------------------------------


class Notifications:
    """Signed notification bodies (one JSON line each); an order id is never used twice in a bench run."""

    def __init__(self) -> None:
        self._ids = itertools.count(10_000_001)

    def unique(self, count: int, copies: int = 1) -> list[bytes]:
        """``count`` bodies: distinct notifications, each repeated ``copies`` times in a row."""
        from shared.signature import sign

        bodies: list[bytes] = []
        for _ in range(math.ceil(count / copies)):
            order_id = next(self._ids)
            payload: dict[str, Any] = {
                "id": order_id, "merchantId": 1, "merchantOrderId": f"bench-{order_id}", "amount": 19.99,
                "currency": "USD", "successUrl": "https://shop.example/success",
                "failUrl": "https://shop.example/fail", "email": "buyer@example.com", "ip": "102.171.177.216",
                "riskScore": 0, "status": "completed", "statusNote": None, "is3ds": False,
                "createdAt": "2024-05-01T10:00:00.000Z", "updatedAt": "2024-05-01T10:00:07.000Z",
            }
            payload["sign"] = sign(payload, MERCHANT_KEY)
            bodies.extend([json.dumps(payload, separators=(",", ":")).encode()] * copies)
        return bodies[:count]


# --- one measured run ----------------------------------------------------------------


@dataclass
class Options:
    rounds: int
    duration_s: float
    open_duration_s: float
    rate: float
    connections: int
    generator: str  # "wrk" or "python"
    memory_events: int
    everysec: bool
    coredis: bool
    tls: bool
    output: Path | None

    @property
    def alternatives(self) -> tuple[str, ...]:
        """The receiver's measured alternatives: its enqueue on coredis, its Redis over TLS."""
        return ((COREDIS,) if self.coredis else ()) + ((TLS,) if self.tls else ())

    @property
    def server_kinds(self) -> tuple[str, ...]:
        return SERVER_KINDS + self.alternatives


@dataclass
class Bench:
    options: Options
    redis: redis.Redis
    redis_pid: int
    servers: dict[str, Server]
    server_cpu: int | None
    load_cpu: int | None
    notifications: Notifications = field(default_factory=Notifications)
    best_rps: dict[str, float] = field(default_factory=dict)

    def reset_redis(self) -> None:
        """Empty Redis and rewrite the AOF, so every run starts alike and none triggers a rewrite."""
        self.redis.flushall()
        self.redis.bgrewriteaof()
        while True:
            info = self.redis.info("persistence")
            if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
                return
            time.sleep(0.05)

    def load(self, kind: str, bodies: list[bytes], rate: float | None = None, duration_s: float | None = None,
             use_wrk: bool | None = None) -> LoadResult:
        """Send ``bodies`` to server ``kind``; the result carries the server's and Redis's resource use."""
        server = self.servers[kind]
        if duration_s is None:
            duration_s = self.options.duration_s if rate is None else self.options.open_duration_s
        if use_wrk is None:
            use_wrk = self.options.generator == "wrk"
        path = write_bodies(bodies)
        try:
            self.redis.latency_reset()
            before = self._snapshot(server)
            result = run_load(server.port, NOTIFY_PATH, path, cpu=self.load_cpu, connections=self.options.connections,
                              duration_s=duration_s, rate=rate, use_wrk=use_wrk)
            self._annotate(result, server, before)
        finally:
            path.unlink()
        if result.non_200 or result.errors:
            print(f"  warning: {kind}: {result.non_200} non-200 answers, {result.errors} connection errors",
                  file=sys.stderr)
        return result

    def _snapshot(self, server: Server) -> tuple[float, ...]:
        return (cpu_seconds(server.pid), cpu_seconds(self.redis_pid), core_busy_seconds(self.server_cpu),
                float(self.redis.info("persistence").get("aof_rewrites", 0)))

    def _annotate(self, result: LoadResult, server: Server, before: tuple[float, ...]) -> None:
        after = self._snapshot(server)
        server_s, redis_s, core_s, rewrites = (a - b for a, b in zip(after, before))
        latency = self.redis.latency_latest()
        jobs = int(self.redis.llen(QUEUE_KEY))
        result.extra.update(
            server_cpu_us_per_request=round(server_s / max(result.requests, 1) * 1e6, 1),
            server_cpu_busy=round(server_s / result.seconds, 3),
            # Anything else that ran on the server's core (other processes, kernel): a noise indicator.
            server_core_busy_other=round(max(0.0, core_s - server_s) / result.seconds, 3),
            redis_cpu_busy=round(redis_s / result.seconds, 3),
            redis_latency_max_ms={_text(event): int(max_ms) for event, _, _, max_ms in latency},
            jobs_created=jobs,
            jobs_per_ok_answer=round(jobs / max(result.requests - result.non_200, 1), 3),
            aof_rewrites_during_run=int(rewrites),
        )

    def closed(self, kind: str) -> LoadResult:
        """One closed-loop run of ``kind`` (``receiver_dup3``: the receiver, each notification 3 times)."""
        server = "receiver" if kind == "receiver_dup3" else kind
        if server == "bare":  # uniqueness is irrelevant here: a pool of bodies, repeated
            pool = self.notifications.unique(5_000)
            bodies = pool * math.ceil(self.options.duration_s * 40_000 / len(pool))
        else:  # enough unique bodies for 1.5x the best rate seen so far
            cap = max(8_000.0, 1.5 * self.best_rps.get(kind, 0.0))
            bodies = self.notifications.unique(int(cap * self.options.duration_s), 3 if kind == "receiver_dup3" else 1)
        if server != "bare":
            self.reset_redis()
        result = self.load(server, bodies)
        self.best_rps[kind] = max(self.best_rps.get(kind, 0.0), result.rps)
        if server != "bare" and result.wrapped:
            print(f"  warning: {kind}: wrk reused bodies {result.wrapped}x (duplicates sent)", file=sys.stderr)
        return result

    def open(self, kind: str) -> LoadResult:
        """One open-loop run at ``options.rate`` requests/s."""
        if kind != "bare":
            self.reset_redis()
        return self.load(kind, self.notifications.unique(int(self.options.rate * self.options.open_duration_s)),
                         rate=self.options.rate)

    def warm_up(self) -> None:
        for kind in self.options.server_kinds:
            self.load(kind, self.notifications.unique(2_000), duration_s=1.0)

    def memory(self, hash_max_listpack_value: int | None = None) -> dict[str, Any]:
        """Redis bytes per remembered event: used_memory delta over N notifications sent through the receiver."""
        n = self.options.memory_events
        self.reset_redis()
        saved = str(self.redis.config_get("hash-max-listpack-value")["hash-max-listpack-value"])
        if hash_max_listpack_value is not None:
            self.redis.config_set("hash-max-listpack-value", hash_max_listpack_value)
        try:
            before = _used_memory_without_clients(self.redis)
            # The Python generator stops at the end of the bodies: exactly N requests.
            result = self.load("receiver", self.notifications.unique(n), duration_s=600.0, use_wrk=False)
            after = _used_memory_without_clients(self.redis)
        finally:
            self.redis.config_set("hash-max-listpack-value", saved)
        jobs = int(self.redis.llen(QUEUE_KEY))
        job_key = next(self.redis.scan_iter(match="rq:job:*", count=1000))
        return {
            "events": n,
            "hash_max_listpack_value": int(hash_max_listpack_value or saved),
            "answered_200": result.requests - result.non_200,
            "jobs_created": jobs,
            "used_memory_delta_bytes": after - before,
            "bytes_per_event": round((after - before) / max(jobs, 1), 1),
            "memory_usage_seen_key": _median_usage(self.redis, "stripay:seen:*"),
            "memory_usage_job_hash": _median_usage(self.redis, "rq:job:*"),
            "job_hash_encoding": _text(self.redis.object("encoding", job_key)),
            "queue_list_bytes_per_event": round(int(self.redis.memory_usage(QUEUE_KEY, samples=0) or 0) / max(jobs, 1), 1),
        }


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _used_memory_without_clients(client: redis.Redis) -> int:
    """``used_memory`` minus client buffers (the receiver's connections stay open between readings)."""
    info = client.info("memory")
    return int(info["used_memory"]) - int(info.get("mem_clients_normal", 0))


def _median_usage(client: redis.Redis, pattern: str, sample: int = 50) -> float:
    keys = list(itertools.islice(client.scan_iter(match=pattern, count=1000), sample))
    return median(float(client.memory_usage(k, samples=0) or 0) for k in keys)


# --- the whole bench -----------------------------------------------------------------


def _rounds(bench: Bench, kinds: Sequence[str]) -> dict[str, list[LoadResult]]:
    """Closed-loop runs interleaved round by round, so drift hits every path alike."""
    runs: dict[str, list[LoadResult]] = {k: [] for k in kinds}
    for round_no in range(bench.options.rounds):
        for kind in kinds:
            result = bench.closed(kind)
            runs[kind].append(result)
            print(f"  round {round_no + 1}: {kind:<15} {result.rps:>9,.0f} req/s  p99 {result.p99_ms:7.2f} ms  "
                  f"server CPU {result.extra['server_cpu_us_per_request']:6.0f} us/req  "
                  f"others on its core {result.extra['server_core_busy_other']:.0%}", flush=True)
    return runs


def _open_rounds(bench: Bench, kinds: Sequence[str]) -> dict[str, list[LoadResult]]:
    runs: dict[str, list[LoadResult]] = {k: [] for k in kinds}
    for round_no in range(bench.options.rounds):
        for kind in kinds:
            result = bench.open(kind)
            runs[kind].append(result)
            print(f"  round {round_no + 1}: {kind:<15} p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms  "
                  f"generator lag p99 {result.send_lateness_p99_ms or 0:5.2f} ms", flush=True)
    return runs


def _summary(runs: dict[str, list[LoadResult]]) -> dict[str, Any]:
    summary = {}
    for kind, rs in runs.items():
        figures: dict[str, Any] = median_of(rs)
        for name in ("server_cpu_us_per_request", "server_cpu_busy", "server_core_busy_other"):
            figures[name] = median(r.extra[name] for r in rs)
        if rs[0].send_lateness_p99_ms is not None:
            figures["generator_lag_p99_ms"] = round(median(r.send_lateness_p99_ms or 0.0 for r in rs), 3)
        figures["redis_fsync_max_ms"] = max(r.extra["redis_latency_max_ms"].get("aof-fsync-always", 0) for r in rs)
        summary[kind] = {"median": figures, "runs": [r.as_dict() for r in rs]}
    return summary


def _per_round_ratio(runs: dict[str, list[LoadResult]], a: str, b: str) -> float:
    return round(median(x.rps / y.rps for x, y in zip(runs[a], runs[b])), 3)


def _run(options: Options) -> dict[str, Any]:
    from shared.embedded_redis import EmbeddedRedis

    cpus = usable_cpus()
    server_cpu, load_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)
    results: dict[str, Any] = {}
    with ExitStack() as stack:
        if options.tls:  # one Redis on a plain and a TLS port, with a CA and certificates of its own
            from tests.support.tls_redis import TlsRedis

            tls_redis = stack.enter_context(TlsRedis(plain_port=True))
            process, url, urls = tls_redis.process, tls_redis.plain_url, {TLS: tls_redis.url()}
        else:
            embedded = stack.enter_context(EmbeddedRedis())
            process, url, urls = embedded.process, embedded.url, {}
        assert process is not None
        redis_pinned = pin(process.pid, load_cpu)
        client = stack.enter_context(redis.Redis.from_url(url))
        client.config_set("latency-monitor-threshold", LATENCY_MONITOR_MS)  # observation only
        servers = {kind: stack.enter_context(_server(kind, urls.get(kind, url), server_cpu))
                   for kind in options.server_kinds}
        bench = Bench(options, client, process.pid, servers, server_cpu, load_cpu)
        results["meta"] = _meta(options, client, server_cpu, load_cpu, redis_pinned)
        print(f"servers on cpu {server_cpu}; load generator ({options.generator}) and Redis on cpu {load_cpu}; "
              f"{LOGGING_NOTE}", flush=True)
        bench.warm_up()

        print("closed loop, appendfsync always", flush=True)
        alternatives = options.alternatives
        runs = _rounds(bench, ("bare", "receiver", *alternatives, "thread_enqueue", "receiver_dup3"))
        results["closed_loop"] = _summary(runs)
        results["ratios"] = {
            "receiver_vs_bare": _per_round_ratio(runs, "receiver", "bare"),
            "receiver_vs_thread_enqueue": _per_round_ratio(runs, "receiver", "thread_enqueue"),
            "thread_enqueue_vs_bare": _per_round_ratio(runs, "thread_enqueue", "bare"),
        }
        for kind in alternatives:
            results["ratios"][f"{kind}_vs_bare"] = _per_round_ratio(runs, kind, "bare")
            results["ratios"][f"{kind}_vs_receiver"] = _per_round_ratio(runs, kind, "receiver")
        print(f"open loop at {options.rate:,.0f} req/s, appendfsync always", flush=True)
        results["open_loop"] = _summary(_open_rounds(bench, ("bare", "receiver", *alternatives)))

        if options.everysec:
            client.config_set("appendfsync", "everysec")
            print("appendfsync everysec (CONFIG SET)", flush=True)
            results["everysec"] = {
                "closed_loop": _summary(_rounds(bench, ("receiver", "thread_enqueue"))),
                "open_loop": _summary(_open_rounds(bench, ("receiver",))),
            }
            client.config_set("appendfsync", "always")

        print(f"memory: {options.memory_events:,} notifications, twice", flush=True)
        results["memory"] = bench.memory()
        results["memory_listpack_1024"] = bench.memory(hash_max_listpack_value=1024)
    results["meta"]["loadavg_after"] = machine_meta()["loadavg"]
    results["targets"] = _targets(results)
    return results


def _targets(results: dict[str, Any]) -> dict[str, Any]:
    ratios = results["ratios"]
    p99 = results["open_loop"]["receiver"]["median"]["p99_ms"]
    return {
        "receiver_at_least_20pct_of_bare": {"value": ratios["receiver_vs_bare"],
                                            "met": ratios["receiver_vs_bare"] >= TARGET_BARE_FRACTION},
        "receiver_at_least_2x_thread_enqueue": {"value": ratios["receiver_vs_thread_enqueue"],
                                                "met": ratios["receiver_vs_thread_enqueue"] >= TARGET_VS_THREAD},
        "p99_under_10ms_at_1k_rps": {"value": p99, "met": p99 < TARGET_P99_MS},
    }


def _meta(options: Options, client: redis.Redis, server_cpu: int | None, load_cpu: int | None,
          redis_pinned: bool) -> dict[str, Any]:
    return {
        **machine_meta(("aiohttp", "redis", "rq", "structlog") + (("coredis",) if options.coredis else ())),
        "redis_server": client.info("server")["redis_version"],
        "pinning": {"servers": server_cpu, "load_generator": load_cpu, "redis": load_cpu if redis_pinned else None},
        "generator": options.generator,
        "connections": options.connections,
        "rounds": options.rounds,
        "duration_s": options.duration_s,
        "open_loop": {"rate": options.rate, "duration_s": options.open_duration_s},
        "redis_config": ("TlsRedis (plain and TLS ports)" if options.tls else "EmbeddedRedis")
        + ": appendonly yes, appendfsync always (everysec runs: CONFIG SET)",
        "logging": LOGGING_NOTE,
        "figures": "median over rounds; ratios are medians of per-round ratios",
    }


# --- output -------------------------------------------------------------------------


def _print(results: dict[str, Any]) -> None:
    meta = results["meta"]
    closed = results["closed_loop"]
    bare_rps = closed["bare"]["median"]["rps"]
    rows = [(LABELS[k], v["median"]) for k, v in closed.items()]
    rows += [(LABELS[k] + ", everysec", v["median"]) for k, v in results.get("everysec", {}).get("closed_loop", {}).items()]
    print_table(f"Closed loop, {meta['connections']} connections, {meta['generator']}, "
                f"median of {meta['rounds']} x {meta['duration_s']:g} s",
                ("path", "req/s", "x bare", "p50 ms", "p99 ms", "server CPU us/req", "others on its core"),
                [(label, m["rps"], m["rps"] / bare_rps, m["p50_ms"], m["p99_ms"], m["server_cpu_us_per_request"],
                  f"{m['server_core_busy_other']:.0%}") for label, m in rows])
    open_rows = [(k, v["median"]) for k, v in results["open_loop"].items()]
    if "everysec" in results:
        open_rows.append(("receiver, everysec", results["everysec"]["open_loop"]["receiver"]["median"]))
    print_table(f"Open loop at {meta['open_loop']['rate']:,.0f} req/s, latency from the scheduled send time, "
                f"median of {meta['rounds']} x {meta['open_loop']['duration_s']:g} s",
                ("path", "p50 ms", "p99 ms", "max ms", "server CPU busy", "generator lag p99 ms",
                 "slowest Redis fsync ms"),
                [(k, m["p50_ms"], m["p99_ms"], m["max_ms"], f"{m['server_cpu_busy']:.0%}", m["generator_lag_p99_ms"],
                  m["redis_fsync_max_ms"]) for k, m in open_rows])
    mem, mem_lp = results["memory"], results["memory_listpack_1024"]
    print_table(f"Redis memory per accepted notification ({mem['events']:,} sent)",
                ("bytes", f"hash-max-listpack-value {mem['hash_max_listpack_value']}", "1024 (CONFIG SET)"),
                [("used_memory delta / event", mem["bytes_per_event"], mem_lp["bytes_per_event"]),
                 ("MEMORY USAGE stripay:seen:* key", mem["memory_usage_seen_key"], mem_lp["memory_usage_seen_key"]),
                 (f"MEMORY USAGE rq:job:* hash ({mem['job_hash_encoding']} / {mem_lp['job_hash_encoding']})",
                  mem["memory_usage_job_hash"], mem_lp["memory_usage_job_hash"]),
                 ("rq:queue:stripay list / event", mem["queue_list_bytes_per_event"],
                  mem_lp["queue_list_bytes_per_event"])])
    print_table("Targets (report only)", ("target", "value", "met"),
                [(name, t["value"], "yes" if t["met"] else "NO") for name, t in results["targets"].items()])
    print(f"\n{LOGGING_NOTE}; load average before/after: {meta['loadavg']} / {meta['loadavg_after']}")


# --- command line -------------------------------------------------------------------


def _parse(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(prog="bench/receiver.py", description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true",
                        help="defaults of 1 round, 3 s closed-loop and 5 s open-loop runs, 5,000 memory events")
    parser.add_argument("--rounds", type=int, help="default 3")
    parser.add_argument("--duration", type=float, help="seconds per closed-loop run, default 5")
    parser.add_argument("--open-duration", type=float, help="seconds per open-loop run, default 10")
    parser.add_argument("--rate", type=float, default=1000.0, help="open-loop offered requests/s")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto",
                        help="closed-loop generator; auto: wrk when on PATH")
    parser.add_argument("--memory-events", type=int, help="default 20,000")
    parser.add_argument("--no-everysec", action="store_true", help="skip the appendfsync everysec runs")
    parser.add_argument("--coredis", action="store_true",
                        help="also run the receiver with its enqueue script on coredis (pip install coredis)")
    parser.add_argument("--tls", action="store_true",
                        help="also run the receiver over rediss:// (needs a redis-server built with TLS)")
    parser.add_argument("--output", default=str(RESULTS), help="JSON file, '-' for none")
    args = parser.parse_args(list(argv))
    defaults = (1, 3.0, 5.0, 5_000) if args.quick else (3, 5.0, 10.0, 20_000)
    for name, default in zip(("rounds", "duration", "open_duration", "memory_events"), defaults):
        if getattr(args, name) is None:
            setattr(args, name, default)
    if args.coredis and importlib.util.find_spec("coredis") is None:
        parser.error("--coredis needs coredis installed: pip install coredis")
    generator = args.generator
    if generator == "auto":
        generator = "wrk" if have_wrk() else "python"
    elif generator == "wrk" and not have_wrk():
        parser.error("wrk is not on PATH")
    return Options(args.rounds, args.duration, args.open_duration, args.rate, args.connections, generator,
                   args.memory_events, not args.no_everysec, args.coredis, args.tls,
                   None if args.output == "-" else Path(args.output))


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the bench, print the tables, write the JSON (unless ``--output -``) and return the figures."""
    options = _parse(sys.argv[1:] if argv is None else argv)
    results = _run(options)
    _print(results)
    if options.output is not None:
        options.output.parent.mkdir(parents=True, exist_ok=True)
        tmp = options.output.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=2) + "\n")
        tmp.replace(options.output)
        print(f"figures written to {options.output}")
    return results


if __name__ == "__main__":
    main()
