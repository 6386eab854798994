"""Helpers shared by the benches: pinned processes, load generators, percentiles, tables.

Two load generators drive a server over loopback, both in a process of their
own (pinned to a core when the machine has more than one):

* ``wrk`` with a Lua script, when ``wrk`` is on PATH (closed loop only);
* a small asyncio HTTP/1.1 keep-alive client (``python -m bench._common``):
  closed loop (each connection sends its next request when the answer
  arrives) or open loop (requests sent on a fixed schedule, latency measured
  from the *scheduled* send time, so a stalled server is not hidden by
  coordinated omission).

Request bodies are read from a file, one body per line, each sent once; the
Python client stops at the end of the file, wrk starts again at its first
line and says how often it did (``wrapped``).

The service under test runs as real processes too: the simulator
(:class:`SimulatorProcess`), a worker pool (:func:`start_worker_pool`), with
the environment of :func:`service_env`; and a few Redis readings (memory,
command counts) shared by the worker and end-to-end benches.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import math
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


# --- processes -------------------------------------------------------------------


def usable_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def pin(pid: int, cpu: int | None) -> bool:
    """Pin every thread of ``pid`` (and so its future threads) to ``cpu``; False if not possible."""
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return False
    task_dir = Path(f"/proc/{pid}/task")
    tids = [int(t.name) for t in task_dir.iterdir()] if task_dir.is_dir() else [pid]
    try:
        for tid in tids:
            os.sched_setaffinity(tid, {cpu})
    except OSError:
        return False
    return True


def spawn(argv: Sequence[str], cpu: int | None, env: dict[str, str] | None = None,
          new_session: bool = False) -> subprocess.Popen[bytes]:
    """Start ``argv`` from the repository root, output discarded, pinned to ``cpu``.

    Threads and processes it starts later inherit the pinning. ``new_session``:
    its own process group, so :func:`stop_group` also ends the children it forked.
    """
    proc = subprocess.Popen(list(argv), cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env, start_new_session=new_session)
    pin(proc.pid, cpu)  # only the main thread exists yet; later threads inherit
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stop_group(proc: subprocess.Popen[bytes], grace_s: float = 15.0) -> None:
    """SIGTERM the process group started by ``spawn(..., new_session=True)``, SIGKILL it after ``grace_s``."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        proc.wait()


def children_cpu_seconds() -> float:
    """User plus system CPU time of this process's children (and theirs) that have been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def child_pids(pid: int) -> list[int]:
    """Process ids of the live children of ``pid`` (say the workers a pool forked)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    children.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return sorted(children)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time used so far by process ``pid`` (all its threads); NaN if unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def core_busy_seconds(cpu: int | None) -> float:
    """Non-idle time of one core so far (every process and the kernel); NaN if unknown."""
    if cpu is None:
        return math.nan
    try:
        line = next(ln for ln in Path("/proc/stat").read_text().splitlines() if ln.startswith(f"cpu{cpu} "))
    except (OSError, StopIteration):
        return math.nan
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in line.split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_http(port: int, path: str, proc: subprocess.Popen[bytes], timeout_s: float = 20.0) -> None:
    """Wait until ``GET path`` answers (any status): the server is up."""
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server process exited with {proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=1.0) as sock:
                sock.sendall(request)
                if sock.recv(16).startswith(b"HTTP/1.1"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"server on port {port} did not answer within {timeout_s} s")
        time.sleep(0.05)


def machine_meta(packages: Sequence[str] = ()) -> dict[str, Any]:
    """Where and when figures were taken (no host names, no paths)."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
        loadavg = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        cpuinfo, loadavg = [], "unknown"
    model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")), platform.machine())
    versions = {}
    for name in packages:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "packages": versions,
        "cpu": f"{model}, {os.cpu_count()} cpus",
        "loadavg": loadavg,
    }


# --- figures -----------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of already sorted values; NaN if empty."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def median(values: Iterable[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return statistics.median(kept) if kept else math.nan


@dataclass
class LoadResult:
    generator: str
    mode: str  # "closed" or "open"
    connections: int
    requests: int  # answered requests
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    non_200: int = 0
    errors: int = 0
    wrapped: int = 0  # wrk only: times the bodies file was started again
    offered_rps: float | None = None  # open loop only
    send_lateness_p99_ms: float | None = None  # open loop only: generator's own lag behind schedule
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def median_of(runs: Sequence[LoadResult]) -> dict[str, float]:
    """Per-figure median over repeated runs."""
    names = ("rps", "p50_ms", "p99_ms", "max_ms")
    return {name: round(median(getattr(r, name) for r in runs), 3) for name in names}


def print_table(title: str, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths))))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))


def _cell(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
    return str(value)


# --- the service under test: Redis, simulator, receiver and worker processes ----------

BENCH_MERCHANT_KEY = "bench-merchant-key-0123456789abcdef"


def service_env(redis_url: str, api_url: str, merchant_key: str = BENCH_MERCHANT_KEY,
                **variables: str) -> dict[str, str]:
    """The environment of a ``stripay-hooks`` process under test: this one's, without any
    ``STRIPAY_*`` setting or Redis URL of the caller, plus the given ones."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("STRIPAY_") and k not in ("REDIS_URL", "PORT", "HOST", "PROMETHEUS_MULTIPROC_DIR")}
    env.update({"REDIS_URL": redis_url, "STRIPAY_API_URL": api_url, "STRIPAY_MERCHANT_KEY": merchant_key,
                "HOST": HOST})
    env.update(variables)
    return env


def reset_redis(client: Any) -> None:
    """Empty Redis and rewrite its AOF, so every run starts alike and none triggers a rewrite."""
    client.flushall()
    client.bgrewriteaof()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        info = client.info("persistence")
        if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
            return
        time.sleep(0.05)
    raise RuntimeError("Redis's AOF rewrite did not finish within 60 s")


def used_memory_without_clients(client: Any) -> int:
    """``used_memory`` minus client buffers (connections of the processes under test stay open)."""
    info = client.info("memory")
    return int(info["used_memory"]) - int(info.get("mem_clients_normal", 0))


def median_memory_usage(client: Any, pattern: str, sample: int = 50) -> float:
    """Median ``MEMORY USAGE`` (all of the value sampled) of up to ``sample`` keys matching ``pattern``."""
    keys = []
    for key in client.scan_iter(match=pattern, count=1000):
        keys.append(key)
        if len(keys) >= sample:
            break
    return median(float(client.memory_usage(k, samples=0) or 0) for k in keys)


def command_calls(client: Any) -> dict[str, int]:
    """Calls per Redis command since the last ``CONFIG RESETSTAT`` (``INFO commandstats``;
    commands run inside scripts are counted too, each under its own name)."""
    return {name.removeprefix("cmdstat_"): int(stats["calls"])
            for name, stats in client.info("commandstats").items()}


class SimulatorProcess:
    """``python -m cli simulator`` on a free port of 127.0.0.1, pinned to ``cpu``; a context manager.

    Its notifications are switched off (mode ``drop``): the benches send their own.
    """

    def __init__(self, cpu: int | None, merchant_key: str = BENCH_MERCHANT_KEY, time_scale: float = 1.0) -> None:
        self.cpu = cpu
        self.merchant_key = merchant_key
        self.time_scale = time_scale
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> "SimulatorProcess":
        from simulator.client import ControlClient

        self.port = free_port()
        env = service_env("", "", self.merchant_key)
        self.proc = spawn([sys.executable, "-m", "cli", "simulator", "--host", HOST, "--port", str(self.port),
                           "--time-scale", str(self.time_scale)], self.cpu, env=env)
        try:
            wait_http(self.port, "/_sim/notify-mode", self.proc)
        except BaseException:
            stop(self.proc)
            raise
        self.control = ControlClient(self.url)
        self.control.set_notify_mode("drop")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            stop(self.proc)

    def set_latency(self, endpoint: str, latency_s: float) -> None:
        """Every request to ``endpoint`` answers after ``latency_s`` (0: no fault)."""
        self.control.clear_faults()
        if latency_s > 0:
            self.control.set_fault(endpoint, latency_s=latency_s)

    def create_orders(self, count: int, **fields: Any) -> list[dict[str, Any]]:
        """``count`` new orders (``POST /_sim/orders`` with ``fields``, say ``status="completed"``)
        over one keep-alive connection; each as the control API shows it."""
        import http.client

        conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
        body = json.dumps(fields).encode()
        orders = []
        try:
            for _ in range(count):
                conn.request("POST", "/_sim/orders", body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                data = response.read()
                if response.status != 201:
                    raise RuntimeError(f"simulator answered {response.status} creating an order: {data[:200]!r}")
                orders.append(json.loads(data))
        finally:
            conn.close()
        return orders


def start_worker_pool(env: dict[str, str], processes: int, cpu: int | None, *, burst: bool,
                      metrics_port: int = 0, threads: int = 1) -> subprocess.Popen[bytes]:
    """``stripay-hooks worker --processes N --threads K`` (as ``python -m cli worker``), in its own process
    group, pinned to ``cpu`` before it forks its workers (they inherit it). Stop it with :func:`stop_group`."""
    argv = [sys.executable, "-m", "cli", "worker", "--processes", str(processes), "--threads", str(threads),
            "--metrics-port", str(metrics_port)]
    if burst:
        argv.append("--burst")
    return spawn(argv, cpu, env=env, new_session=True)


def write_results(results: dict[str, Any], output: Path | None) -> None:
    """Write ``results`` as JSON to ``output`` (atomically), unless it is None."""
    if output is None:
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    tmp.replace(output)
    print(f"figures written to {output}")


# --- load generation -------------------------------------------------------------


def write_bodies(bodies: Iterable[bytes]) -> Path:
    """A temporary file with one body per line (bodies must not contain newlines)."""
    handle, name = tempfile.mkstemp(prefix="bench-bodies-", suffix=".txt")
    with os.fdopen(handle, "wb") as out:
        for body in bodies:
            out.write(body + b"\n")
    return Path(name)


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def run_load(
    port: int,
    path: str,
    bodies: Path,
    *,
    cpu: int | None,
    connections: int,
    duration_s: float,
    rate: float | None = None,
    use_wrk: bool = False,
) -> LoadResult:
    """Drive ``POST path`` on 127.0.0.1:``port`` from a pinned generator process.

    Closed loop when ``rate`` is None (wrk if ``use_wrk``), else open loop at
    ``rate`` requests/s (Python generator).
    """
    if use_wrk and rate is None:
        return _run_wrk(port, path, bodies, cpu, connections, duration_s)
    argv = [sys.executable, "-m", "bench._common", str(port), path, str(bodies), str(connections), str(duration_s)]
    if rate is not None:
        argv.append(str(rate))
    proc = subprocess.Popen(argv, cwd=REPO_ROOT, stdout=subprocess.PIPE)
    pin(proc.pid, cpu)
    out, _ = proc.communicate(timeout=duration_s + 120)
    if proc.returncode != 0:
        raise RuntimeError(f"load generator exited with {proc.returncode}")
    return LoadResult(**json.loads(out))


_WRK_SCRIPT = """
local threads, counter = {}, 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  local nthreads = tonumber(args[2])
  local headers = {["Content-Type"] = "application/json"}
  reqs, idx, wrapped = {}, 0, 0
  local line_no = 0
  for line in io.lines(args[1]) do
    if line_no % nthreads == tid then
      reqs[#reqs + 1] = wrk.format("POST", args[3], headers, line)
    end
    line_no = line_no + 1
  end
end
function request()
  idx = idx + 1
  if idx > #reqs then idx, wrapped = 1, wrapped + 1 end
  return reqs[idx]
end
function done(summary, latency, requests)
  local wrapped_total = 0
  for _, t in ipairs(threads) do wrapped_total = wrapped_total + t:get("wrapped") end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"non_200":%d,"errors":%d,"wrapped":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout, wrapped_total))
end
"""


def _run_wrk(port: int, path: str, bodies: Path, cpu: int | None, connections: int, duration_s: float) -> LoadResult:
    threads = 1
    with tempfile.NamedTemporaryFile("w", prefix="bench-wrk-", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT)
    try:
        argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration_s))}s", "--timeout", "10s",
                "-s", script.name, f"http://{HOST}:{port}{path}", "--", str(bodies), str(threads), path]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        pin(proc.pid, cpu)
        out, _ = proc.communicate(timeout=duration_s + 120)
    finally:
        os.unlink(script.name)
    line = next((ln for ln in out.decode().splitlines() if ln.startswith("WRKJSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (exit {proc.returncode})")
    raw = json.loads(line.removeprefix("WRKJSON "))
    seconds = raw["duration_us"] / 1e6
    return LoadResult(
        generator="wrk", mode="closed", connections=connections, requests=raw["requests"], seconds=seconds,
        rps=raw["requests"] / seconds, p50_ms=raw["p50_us"] / 1000, p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000, non_200=raw["non_200"], errors=raw["errors"], wrapped=raw["wrapped"],
    )


def _content_length(lowered_head: bytes) -> int:
    at = lowered_head.find(b"\r\ncontent-length:")
    if at < 0:
        return 0
    end = lowered_head.find(b"\r\n", at + 2)
    return int(lowered_head[at + 17 : end if end >= 0 else len(lowered_head)])


class _Connection(asyncio.Protocol):
    """One keep-alive connection; hands each complete response to its generator."""

    def __init__(self, generator: _Generator) -> None:
        self.generator = generator
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.started = 0.0  # when the request in flight was sent (closed) or scheduled (open)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = bytes(self.buffer[:end]).lower()
            total = end + 4 + _content_length(head)
            if len(self.buffer) < total:
                return
            status = int(head[9:12])
            del self.buffer[:total]
            self.generator.answered(self, status)

    def connection_lost(self, exc: Exception | None) -> None:
        self.generator.lost(self)

    def send(self, request: bytes, started: float) -> None:
        assert self.transport is not None
        self.started = started
        self.transport.write(request)


class _Generator:
    """Shared bookkeeping of the closed- and open-loop Python generators."""

    def __init__(self, requests: list[bytes], deadline: float) -> None:
        self.requests = requests
        self.next_index = 0
        self.deadline = deadline
        self.latencies: list[float] = []
        self.non_200 = 0
        self.errors = 0
        self.in_flight: set[_Connection] = set()
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.finished_sending = False

    def answered(self, conn: _Connection, status: int) -> None:
        now = time.monotonic()
        self.latencies.append(now - conn.started)
        if status != 200:
            self.non_200 += 1
        self.in_flight.discard(conn)
        self.next_for(conn, now)
        self.check_done()

    def lost(self, conn: _Connection) -> None:
        if conn in self.in_flight:
            self.errors += 1
            self.in_flight.discard(conn)
            self.check_done()

    def next_for(self, conn: _Connection, now: float) -> None:
        raise NotImplementedError

    def check_done(self) -> None:
        if self.finished_sending and not self.in_flight and not self.done.done():
            self.done.set_result(None)


class _ClosedLoop(_Generator):
    def next_for(self, conn: _Connection, now: float) -> None:
        if self.next_index >= len(self.requests) or now >= self.deadline:
            self.finished_sending = True
            return
        request = self.requests[self.next_index]
        self.next_index += 1
        self.in_flight.add(conn)
        conn.send(request, time.monotonic())


class _OpenLoop(_Generator):
    def __init__(self, requests: list[bytes], deadline: float) -> None:
        super().__init__(requests, deadline)
        self.idle: deque[_Connection] = deque()
        self.waiting: deque[tuple[float, bytes]] = deque()  # scheduled but no idle connection yet

    def next_for(self, conn: _Connection, now: float) -> None:
        if self.waiting:
            scheduled, request = self.waiting.popleft()
            self.in_flight.add(conn)
            conn.send(request, scheduled)
        else:
            self.idle.append(conn)

    def submit(self, request: bytes, scheduled: float) -> None:
        if self.idle:
            conn = self.idle.pop()
            self.in_flight.add(conn)
            conn.send(request, scheduled)
        else:
            self.waiting.append((scheduled, request))


def _http_requests(port: int, path: str, bodies: Path) -> list[bytes]:
    head = f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
    requests = []
    with bodies.open("rb") as lines:
        for line in lines:
            body = line.rstrip(b"\n")
            requests.append(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return requests


async def _python_load(port: int, path: str, bodies: Path, connections: int, duration_s: float,
                       rate: float | None) -> LoadResult:
    loop = asyncio.get_running_loop()
    requests = _http_requests(port, path, bodies)
    if rate is not None:
        requests = requests[: int(rate * duration_s)]
    start = time.monotonic()
    generator: _Generator = (_ClosedLoop if rate is None else _OpenLoop)(requests, start + duration_s)
    conns = [(await loop.create_connection(lambda: _Connection(generator), HOST, port))[1] for _ in range(connections)]
    start, start_wall = time.monotonic(), time.time()
    generator.deadline = start + duration_s
    lateness: list[float] = []
    if isinstance(generator, _OpenLoop):
        assert rate is not None
        generator.idle.extend(conns)
        for i, request in enumerate(requests):
            scheduled = start + i / rate
            if (delay := scheduled - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            lateness.append(time.monotonic() - scheduled)
            generator.submit(request, scheduled)
        generator.finished_sending = True
    else:
        for conn in conns:
            generator.next_for(conn, start)
    generator.check_done()
    await asyncio.wait_for(generator.done, timeout=duration_s + 60)
    seconds = time.monotonic() - start
    for conn in conns:
        if conn.transport is not None:
            conn.transport.close()
    latencies = sorted(generator.latencies)
    lateness.sort()
    return LoadResult(
        generator="python", mode="closed" if rate is None else "open", connections=connections,
        requests=len(latencies), seconds=seconds, rps=len(latencies) / seconds,
        p50_ms=percentile(latencies, 50) * 1000, p99_ms=percentile(latencies, 99) * 1000,
        max_ms=(latencies[-1] * 1000) if latencies else math.nan, non_200=generator.non_200,
        errors=generator.errors, offered_rps=rate,
        send_lateness_p99_ms=percentile(lateness, 99) * 1000 if rate is not None else None,
        # Open loop: request i was scheduled at start_wall + i / rate (Unix time, this machine's clock).
        extra={"start_wall": start_wall} if rate is not None else {},
    )


def _generator_main(argv: Sequence[str]) -> None:
    port, path, bodies, connections, duration_s = int(argv[0]), argv[1], Path(argv[2]), int(argv[3]), float(argv[4])
    rate = float(argv[5]) if len(argv) > 5 else None
    result = asyncio.run(_python_load(port, path, bodies, connections, duration_s, rate))
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    _generator_main(sys.argv[1:])
