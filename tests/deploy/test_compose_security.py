"""deploy/compose.yaml keeps the stack closed: Redis requires a password from the env file,
only the receiver listens beyond this host, Grafana has no default password, and every
secret comes from the env file, which is never committed."""

from __future__ import annotations

import fnmatch
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from tests.deploy.exported import REPO, load_yaml
from tests.deploy.manifests import compose_interpolate, compose_variables
from tests.deploy.redis_auth import redis_started_by
from tests.deploy.test_compose import (
    COMPOSE_FILE,
    ENV_FILE_EXAMPLE,
    SECRET_WORDS,
    env_file,
    environment,
    raw_environment,
)


@pytest.fixture(scope="module")
def services() -> dict:
    return load_yaml(COMPOSE_FILE)["services"]


def docker_argv(service: dict) -> list[str]:
    """What the container runs: its entrypoint followed by its command, as Compose interpolates them."""
    return [compose_interpolate(str(arg)) for arg in [*service.get("entrypoint", []), *service["command"]]]


@pytest.fixture
def password() -> str:
    return secrets.token_hex(16)


def test_redis_refuses_clients_without_the_password(services: dict, password: str, tmp_path: Path) -> None:
    with redis_started_by(docker_argv(services["redis"]), password, tmp_path) as started:
        with started.client() as anonymous, pytest.raises(redis.AuthenticationError):
            anonymous.ping()
        with started.client("not-" + password) as wrong, pytest.raises(redis.AuthenticationError):
            wrong.ping()


def test_the_apps_redis_url_authenticates(services: dict, password: str, tmp_path: Path) -> None:
    with redis_started_by(docker_argv(services["redis"]), password, tmp_path) as started:
        for name in ("receiver", "worker"):
            url = urlsplit(environment(services[name], env_file(REDIS_PASSWORD=password))["REDIS_URL"])
            assert url.hostname == "redis" and url.port == 6379
            local = url._replace(netloc=f":{url.password}@127.0.0.1:{started.port}").geturl()
            with redis.Redis.from_url(local, socket_timeout=2) as client:
                assert client.ping() is True, name


def test_the_password_is_not_on_redis_servers_command_line(services: dict, password: str, tmp_path: Path) -> None:
    with redis_started_by(docker_argv(services["redis"]), password, tmp_path) as started:
        cmdline = Path(f"/proc/{started.pid}/cmdline").read_bytes()
        assert b"redis-server" in cmdline
        assert password.encode() not in cmdline


def test_redis_healthcheck_authenticates(services: dict, password: str, tmp_path: Path) -> None:
    kind, command = services["redis"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    command = compose_interpolate(command)
    assert password not in command and " -a " not in command
    with redis_started_by(docker_argv(services["redis"]), password, tmp_path) as started:
        assert started.run_shell(["/bin/sh", "-c", command], {"REDIS_PASSWORD": password}) == 0
        assert started.run_shell(["/bin/sh", "-c", command], {"REDIS_PASSWORD": "not-" + password}) != 0


@pytest.mark.parametrize("name", ["redis", "prometheus", "grafana"])
def test_admin_services_listen_on_this_host_only(services: dict, name: str) -> None:
    ports = [compose_interpolate(str(mapping)) for mapping in services[name].get("ports", [])]
    assert all(mapping.startswith("127.0.0.1:") for mapping in ports), ports


def test_only_the_receiver_listens_beyond_this_host(services: dict) -> None:
    for name, service in services.items():
        if name == "receiver":
            continue
        for mapping in service.get("ports", []):
            assert compose_interpolate(str(mapping)).startswith("127.0.0.1:"), f"{name}: {mapping}"


def test_grafana_does_not_start_without_an_admin_password(services: dict) -> None:
    raw = raw_environment(services["grafana"])["GF_SECURITY_ADMIN_PASSWORD"]
    assert raw.startswith("${GF_ADMIN_PASSWORD:?") and raw.endswith("}"), raw
    assert compose_variables(COMPOSE_FILE.read_text())["GF_ADMIN_PASSWORD"] == {":?"}
    env = environment(services["grafana"])
    assert env.get("GF_AUTH_ANONYMOUS_ENABLED", "false") == "false"


def test_no_secret_has_a_default() -> None:
    for name, operators in compose_variables(COMPOSE_FILE.read_text()).items():
        if any(word in name for word in SECRET_WORDS):
            assert operators == {":?"}, f"${{{name}}} must be required (:?), not {operators}"


def test_the_receiver_gets_billrun_settings_and_secrets_from_the_env_file(services: dict) -> None:
    raw = raw_environment(services["receiver"])
    for name in ("STRIPAY_PUBLIC_URL", "BILLRUN_SHARED_SECRETS", "BILLRUN_REDIRECT_HOSTS"):
        assert raw[name].startswith("${" + name), name
    assert compose_variables(raw["BILLRUN_SHARED_SECRETS"])["BILLRUN_SHARED_SECRETS"] == {":?"}
    assert compose_variables(raw["STRIPAY_PUBLIC_URL"])["STRIPAY_PUBLIC_URL"] == {":?"}
    assert "BILLRUN_SHARED_SECRETS" not in raw_environment(services["worker"]), "the worker has no use for them"


def env_file_example() -> dict[str, str]:
    lines = [line for line in ENV_FILE_EXAMPLE.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_the_env_file_example_names_every_required_variable() -> None:
    required = {name for name, ops in compose_variables(COMPOSE_FILE.read_text()).items() if ":?" in ops}
    example = env_file_example()
    assert required <= set(example), f"missing from {ENV_FILE_EXAMPLE.name}: {required - set(example)}"
    secret_names = [name for name in example if any(word in name for word in SECRET_WORDS)]
    assert secret_names and all(example[name] == "" for name in secret_names), "no secret values in the example"
    assert example["STRIPAY_PUBLIC_URL"].startswith("https://")


def test_the_env_file_is_never_committed() -> None:
    patterns = [line.strip() for line in (REPO / ".gitignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    ignored = lambda path: any(fnmatch.fnmatch(path, p) for p in patterns)  # noqa: E731
    assert ignored("deploy/stripay.env")
    assert not ignored("deploy/stripay.env.example")
    assert "--env-file deploy/stripay.env" in COMPOSE_FILE.read_text()
