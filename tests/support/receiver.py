"""A real `stripay-hooks receiver` process on a free port, for sync and property tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

from shared.embedded_redis import free_port
from shared.settings import Settings

START_TIMEOUT_S = 20.0


class ReceiverProcess:
    def __init__(self, settings: Settings, extra_env: dict[str, str] | None = None, port: int | None = None,
                 log_path: str | None = None) -> None:
        """``port``: a chosen port (default a free one); ``log_path``: append the process's output there."""
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.notify_url = f"{self.url}/stripay/notify"
        self.metrics_port = free_port()
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        env = dict(os.environ)
        env.update({
            "REDIS_URL": settings.redis_url or "",
            "STRIPAY_MERCHANT_KEY": ",".join(settings.merchant_keys),
            "STRIPAY_MAX_BODY_BYTES": str(settings.max_body_bytes),
            "STRIPAY_RETRY_S": ",".join(str(s) for s in settings.retry_s),
            "STRIPAY_API_URL": settings.api_url,
            "PORT": str(self.port),
            "METRICS_PORT": str(self.metrics_port),
            "HOST": "127.0.0.1",
        })
        env.update(extra_env or {})
        self._env = env
        self._log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "ReceiverProcess":
        if self._log_path is None:
            self.process = subprocess.Popen([sys.executable, "-m", "cli", "receiver"], env=self._env,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            with open(self._log_path, "ab") as log:
                self.process = subprocess.Popen([sys.executable, "-m", "cli", "receiver"], env=self._env,
                                                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if urllib.request.urlopen(f"{self.url}/healthz", timeout=1).status == 200:
                    return self
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the receiver did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def restart(self, kill: bool = True) -> "ReceiverProcess":
        """A new receiver process on the same port (``kill``: the old one gets SIGKILL, else SIGTERM)."""
        if kill:
            self.kill()
        else:
            self.stop()
        return self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> "ReceiverProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
