"""The receiver and the worker meet only in shared/: neither imports the other,
and shared/ imports neither (so no path leads from one to the other through it)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("receiver", "worker", "shared")
FORBIDDEN = {"receiver": {"worker"}, "worker": {"receiver"}, "shared": {"receiver", "worker"}}


def imported_modules(source: str, module: list[str]) -> set[str]:
    """Every module that the code of ``module`` (its dotted name as parts) imports,
    at the top or inside a function, relative imports resolved."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module[: len(module) - node.level]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return found


def modules_of(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def module_name(path: Path) -> list[str]:
    return list(path.relative_to(ROOT).with_suffix("").parts)


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_nothing_from_the_other_side(package: str) -> None:
    paths = modules_of(package)
    assert len(paths) > 2  # the package was found
    crossings = sorted(
        f"{path.relative_to(ROOT)} imports {name}"
        for path in paths
        for name in imported_modules(path.read_text(encoding="utf-8"), module_name(path))
        if name.split(".")[0] in FORBIDDEN[package]
    )
    assert crossings == []


def test_imports_inside_functions_and_relative_ones_are_seen() -> None:
    source = "def f():\n    from worker.context import get_context\nfrom .. import worker\nimport worker.jobs\n"
    found = imported_modules(source, ["receiver", "sub", "probe"])
    assert {"worker.context", "receiver.worker", "worker.jobs"} <= found
    assert {name.split(".")[0] for name in found} == {"worker", "receiver"}
