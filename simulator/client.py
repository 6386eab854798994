"""A blocking client of the ``/_sim/`` control API (stdlib only), for the CLI and tests."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any


POLL_S = 0.02


class SimulatorUnreachable(ConnectionError):
    """Nothing answers at the simulator's URL."""


class SimulatorError(RuntimeError):
    """The simulator answered with an error; ``str(err)`` carries its message."""

    def __init__(self, http_status: int, message: str) -> None:
        super().__init__(f"simulator answered {http_status}: {message}")
        self.http_status = http_status


class ControlClient:
    """Calls the control API of the simulator at ``base_url``; every method blocks."""

    def __init__(self, base_url: str, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        # Direct connections only: an http_proxy in the environment must not capture 127.0.0.1.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                message = json.loads(raw)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = raw.decode("utf-8", errors="replace")[:200]
            raise SimulatorError(err.code, message) from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise SimulatorUnreachable(f"cannot reach the simulator at {self.base_url} ({reason})") from None

    def create_order(self, **fields: Any) -> dict[str, Any]:
        return dict(self.call("POST", "/_sim/orders", fields))

    def set_status(self, order_id: int, status: str, status_note: str | None = None) -> dict[str, Any]:
        return dict(self.call("POST", f"/_sim/orders/{order_id}/status", {"status": status, "statusNote": status_note}))

    def order(self, order_id: int) -> dict[str, Any]:
        return dict(self.call("GET", f"/_sim/orders/{order_id}"))

    def set_fault(
        self,
        endpoint: str = "*",
        latency_s: float = 0.0,
        error_rate: float = 0.0,
        timeout: bool = False,
        status: int | None = None,
    ) -> list[dict[str, Any]]:
        rule = {"endpoint": endpoint, "latency_s": latency_s, "error_rate": error_rate, "timeout": timeout,
                "status": status}
        return list(self.call("POST", "/_sim/faults", rule)["faults"])

    def clear_faults(self) -> None:
        self.call("DELETE", "/_sim/faults")

    def set_notify_mode(self, mode: str, copies: int = 2) -> dict[str, Any]:
        return dict(self.call("POST", "/_sim/notify-mode", {"mode": mode, "copies": copies}))

    def notify_state(self) -> dict[str, Any]:
        return dict(self.call("GET", "/_sim/notify-mode"))

    def release(self) -> int:
        return int(self.call("POST", "/_sim/notify-mode/release")["released"])

    def deliveries(self, order_id: int | None = None) -> list[dict[str, Any]]:
        query = "" if order_id is None else f"?order_id={order_id}"
        return list(self.call("GET", "/_sim/deliveries" + query)["deliveries"])

    def wait_for_deliveries(self, n: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
        """The log once it holds at least ``n`` attempts; ``TimeoutError`` (with what it saw) otherwise."""
        deadline = time.monotonic() + timeout_s
        while True:
            seen = self.deliveries()
            if len(seen) >= n:
                return seen
            if time.monotonic() >= deadline:
                raise TimeoutError(f"expected {n} delivery attempts within {timeout_s} s, saw {len(seen)}: {seen}")
            time.sleep(POLL_S)

    def set_updated_at_mode(self, mode: str) -> dict[str, Any]:
        """``strict`` (default), ``whole_seconds`` or ``same`` (see :mod:`simulator.orders`)."""
        return dict(self.call("POST", "/_sim/updated-at", {"mode": mode}))

    def reset(self) -> None:
        self.call("POST", "/_sim/reset")
