"""The worker command's multiprocess metrics: the directory is in the environment
before prometheus_client is imported, so metrics write their values there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cli.multiprocess_metrics import METRICS_DIR_ENV, MetricsImportedTooEarly, use_multiprocess_dir

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != METRICS_DIR_ENV}
    environ.update(env)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=environ, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_cli_and_the_worker_command_import_no_prometheus_client_before_the_command_runs() -> None:
    out = run_python("""
        import sys
        import cli.main, cli.worker_cmd
        cli.main.main.get_command(None, "worker")
        print(sorted(m for m in sys.modules if m.split(".")[0] == "prometheus_client"))
    """)
    assert out == "[]\n"


def test_metrics_write_their_values_to_the_emptied_named_directory(tmp_path: Path) -> None:
    (tmp_path / "counter_4242.db").write_bytes(b"left by a previous run")
    out = run_python("""
        import json, os
        from cli.multiprocess_metrics import use_multiprocess_dir
        path = use_multiprocess_dir()
        from shared import metrics
        metrics.reconcile_total.labels(outcome="applied").inc()
        print(json.dumps({"path": path, "files": sorted(os.listdir(path)), "pid": os.getpid()}))
    """, **{METRICS_DIR_ENV: str(tmp_path)})
    written = json.loads(out)
    assert written["path"] == str(tmp_path)
    assert f"counter_{written['pid']}.db" in written["files"]
    assert "counter_4242.db" not in written["files"]


def test_without_a_named_directory_a_temporary_one_is_used_and_removed_at_exit() -> None:
    out = run_python("""
        import os
        from cli.multiprocess_metrics import METRICS_DIR_ENV, use_multiprocess_dir
        path = use_multiprocess_dir()
        print(path, os.environ[METRICS_DIR_ENV] == path, os.path.isdir(path))
    """)
    path, in_env, existed = out.split()
    assert (in_env, existed) == ("True", "True")
    assert not Path(path).exists()


def test_refuses_once_prometheus_client_is_imported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import prometheus_client  # noqa: F401 - this test process has it already; say so

    monkeypatch.setenv(METRICS_DIR_ENV, str(tmp_path / "metrics"))
    with pytest.raises(MetricsImportedTooEarly):
        use_multiprocess_dir()
    assert not (tmp_path / "metrics").exists()
