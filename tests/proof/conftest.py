"""The proof suite prints one summary line per scenario at the end of the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.proof.harness import SUMMARY, TOTALS


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    """Where a scenario's processes write their logs (and Redis its data), kept by pytest for a look after a failure."""
    return tmp_path


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SUMMARY:
        terminalreporter.section("stripay-hooks proof: notifications to order states")
        for line in SUMMARY:
            terminalreporter.write_line(line)
        terminalreporter.write_line(", ".join(f"{name} {value}" for name, value in TOTALS.items()) + " in all")
