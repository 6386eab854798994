"""Worker-pool housekeeping: metrics files of dead worker processes."""

from __future__ import annotations

from rq.worker_pool import WorkerData, WorkerPool


def on_worker_exit(pool: WorkerPool) -> None:
    """Mark a dead worker's gauges dead, so multiprocess metrics do not keep them."""
    from prometheus_client import multiprocess

    original = pool.handle_dead_worker

    def handle_dead_worker(worker_data: WorkerData) -> None:
        multiprocess.mark_process_dead(worker_data.pid)
        original(worker_data)

    pool.handle_dead_worker = handle_dead_worker  # type: ignore[method-assign]
