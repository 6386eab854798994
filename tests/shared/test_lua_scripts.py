"""Lua scripts ship as package data and name their arguments before using them."""

import fnmatch
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(path for package in ("shared", "worker", "receiver", "cli") for path in (ROOT / package).rglob("*.lua"))


def test_there_are_scripts() -> None:
    assert SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_script_is_package_data(script: Path) -> None:
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    patterns = package_data.get("*", []) + package_data.get(script.parent.name, [])
    assert any(fnmatch.fnmatch(script.name, pattern) for pattern in patterns)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_keys_and_argv_are_named_at_the_top(script: Path) -> None:
    lines = [line for line in script.read_text().splitlines() if line.strip() and not line.startswith("--")]
    naming = re.compile(r"^local \w+ = (?:tonumber\()?(?:KEYS|ARGV)\[\d+\]\)?\s*(?:--.*)?$")
    header = 0
    while header < len(lines) and lines[header].startswith("local ") and "[" in lines[header]:
        assert naming.match(lines[header]), lines[header]
        header += 1
    assert header > 0
    body = "\n".join(lines[header:])
    assert not re.search(r"\b(?:KEYS|ARGV)\[", body), "KEYS/ARGV used by position below the header"
