"""The no-op RQ job of ``bench/worker.py``: RQ's own cost per job, for comparison.

Its jobs are written exactly like the reconcile jobs (same arguments, JSON
serializer, timeout, TTLs, retries, failure callback; only the function
differs) and run by the same ``stripay-hooks worker`` pool of
``StripayWorker`` processes. It returns a result of the reconcile job's shape,
so RQ stores a result of the same size.
"""

from __future__ import annotations

from typing import Any

NOOP_JOB = "bench.noop.noop"


def noop(payload: dict[str, Any], received_at: float, source: str = "notify",
         recheck_attempt: int = 0) -> dict[str, Any]:
    return {"order_id": payload.get("id"), "outcome": "noop", "status": payload.get("status"),
            "event_id": f"{payload.get('id')}-0-{payload.get('status')}"}
