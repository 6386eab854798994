"""The README documents every metric and every setting the code has."""

import re
from pathlib import Path

from prometheus_client import REGISTRY

import shared.metrics  # noqa: F401 - defines the metrics
from shared import queue_metrics

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_starts_with_the_two_quick_start_commands() -> None:
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^make (\w+)", quick_start, flags=re.MULTILINE)
    assert commands == ["dev", "test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_every_metric_has_one_line_in_the_readme() -> None:
    defined = {metric.name for metric in REGISTRY.collect() if metric.name.startswith("stripay_")}
    defined |= {queue_metrics.JOBS, queue_metrics.OLDEST_AGE, queue_metrics.REJECTED, queue_metrics.WORKERS,
                queue_metrics.REDIS_UP}
    # prometheus_client reports counters without their _total suffix.
    documented = set(re.findall(r"^\| `(stripay_\w+)`", README, flags=re.MULTILINE))
    normalised = {name.removesuffix("_total") for name in documented}
    assert {name.removesuffix("_total") for name in defined} == normalised


def test_every_setting_is_in_the_readme() -> None:
    source = (ROOT / "shared" / "settings.py").read_text()
    variables = set(re.findall(r'"((?:STRIPAY|REDIS|PORT|HOST|METRICS|BILLRUN)[A-Z_]*)"', source))
    missing = {name for name in variables if f"`{name}`" not in README}
    assert not missing, f"settings missing from the README: {sorted(missing)}"
