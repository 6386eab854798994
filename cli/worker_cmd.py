"""``stripay-hooks worker``: a pool of long-lived RQ workers for queue ``stripay``."""

from __future__ import annotations

import click

from cli.main import fail, load_settings
from cli.multiprocess_metrics import use_multiprocess_dir

# Jobs at once per process: a reconcile mostly waits on Stripay's API (see the README's capacity planning).
DEFAULT_THREADS = 16


@click.command()
@click.option("--processes", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes (long-lived; jobs run in-process, not in a fork per job).")
@click.option("--threads", type=click.IntRange(min=1), default=DEFAULT_THREADS, show_default=True,
              envvar="WORKER_THREADS", help="Jobs run at once in each process, one thread each (env WORKER_THREADS).")
@click.option("--metrics-port", type=int, default=9108, show_default=True, help="Prometheus metrics port (0: off).")
@click.option("--burst", is_flag=True, help="Exit when the queue is empty (for scripts and tests).")
def worker(processes: int, threads: int, metrics_port: int, burst: bool) -> None:
    """Run RQ workers (with the scheduler) that reconcile notifications, THREADS jobs at once per process."""
    settings = load_settings()
    if settings.redis_url is None:
        fail("REDIS_URL is required by the worker (use `stripay-hooks dev` for an embedded Redis)", code=2)
    metrics_dir = use_multiprocess_dir()  # before anything imports prometheus_client

    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    import shared.metrics  # noqa: F401 - define the metrics in multiprocess mode before forking
    import worker.jobs  # noqa: F401 - imported once here, not by every forked worker on its first job
    from shared.jobs import QUEUE_NAME
    from shared.logging import configure_logging
    from shared.redis_client import sync_client
    from worker.pool import ThreadedWorkerPool, on_worker_exit
    from worker.sweep_schedule import schedule_sweeps

    configure_logging()
    if metrics_port:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=metrics_dir)
        try:
            start_http_server(metrics_port, registry=registry)
        except OSError as err:
            fail(f"cannot serve metrics on port {metrics_port}: {err.strerror}")
    connection = sync_client(settings.redis_url)
    try:
        connection.ping()
    except Exception as err:  # noqa: BLE001 - one clear line
        fail(f"Redis unreachable at REDIS_URL: {type(err).__name__}")
    schedule_sweeps(connection, settings)
    pool = ThreadedWorkerPool(settings, threads, [QUEUE_NAME], connection=connection, num_workers=processes)
    on_worker_exit(pool)
    pool.start(burst=burst, logging_level="INFO")
