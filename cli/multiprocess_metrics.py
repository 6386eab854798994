"""prometheus_client's multiprocess mode for ``stripay-hooks worker``, set up as documented:
``PROMETHEUS_MULTIPROC_DIR`` names an empty directory in the environment before
``prometheus_client`` is first imported, so every metric of this process and of
the worker processes it starts (which inherit the environment) writes its values
there, and the pool's ``/metrics`` sums them.

Nothing in ``cli.main`` or ``cli.worker_cmd`` imports prometheus_client at module
level; :func:`use_multiprocess_dir` is the worker command's first step and refuses
to run if that ever changes, rather than leave the process half in single-process mode.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile

METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


class MetricsImportedTooEarly(RuntimeError):
    """prometheus_client was imported before the multiprocess directory was chosen."""


def _remove_if_owner(path: str, owner_pid: int) -> None:
    if os.getpid() == owner_pid:  # not from a forked worker process
        shutil.rmtree(path, ignore_errors=True)


def use_multiprocess_dir() -> str:
    """Choose and empty the directory (a temporary one, removed at exit, unless
    ``PROMETHEUS_MULTIPROC_DIR`` names one) and put it in the environment."""
    if "prometheus_client" in sys.modules:
        raise MetricsImportedTooEarly(
            f"prometheus_client was imported before {METRICS_DIR_ENV} was set; its metrics would not be shared"
        )
    path = os.environ.get(METRICS_DIR_ENV)
    if not path:
        path = tempfile.mkdtemp(prefix="stripay-metrics-")
        atexit.register(_remove_if_owner, path, os.getpid())
    shutil.rmtree(path, ignore_errors=True)  # files of a previous run would be summed in
    os.makedirs(path, exist_ok=True)
    os.environ[METRICS_DIR_ENV] = path
    return path
