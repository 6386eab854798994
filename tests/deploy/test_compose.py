"""deploy/compose.yaml runs what the code provides, with a Redis that keeps its data."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.exported import DEPLOY, load_yaml
from tests.deploy.manifests import (
    compose_interpolate,
    parse_command,
    receiver_get_paths,
    receiver_metrics_paths,
    seconds,
    settings_from,
)

COMPOSE_FILE = DEPLOY / "compose.yaml"
ENV_FILE_EXAMPLE = DEPLOY / "stripay.env.example"
SECRET_WORDS = ("PASSWORD", "SECRET", "KEY")


def env_file(**values: str) -> dict[str, str]:
    """A filled-in env file: the example's values, a sample for each secret it leaves empty."""
    found = {}
    for line in ENV_FILE_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, value = line.split("=", 1)
            if not value and any(word in name for word in SECRET_WORDS):
                value = f"sample0{name.lower().replace('_', '0')}0not0secret"
            found[name] = value
    found.update(values)
    return found


@pytest.fixture(scope="module")
def compose() -> dict:
    document = load_yaml(COMPOSE_FILE)
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


def raw_environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {name: str(value) for name, value in env.items()}


def environment(service: dict, variables: dict[str, str] | None = None) -> dict[str, str]:
    """The service's environment once Compose has interpolated it with ``variables`` (default: the
    example env file, filled in)."""
    variables = env_file() if variables is None else variables
    return {name: compose_interpolate(value, variables) for name, value in raw_environment(service).items()}


def redis_args(service: dict) -> dict[str, str]:
    command = service["command"]
    assert isinstance(command, list) and command[0] == "redis-server", command
    args = command[1:]
    assert len(args) % 2 == 0 and all(a.startswith("--") for a in args[::2]), args
    return {name[2:]: str(value) for name, value in zip(args[::2], args[1::2], strict=True)}


def test_the_stack_has_its_services(services: dict) -> None:
    assert {"redis", "receiver", "worker", "prometheus", "grafana"} <= set(services)


def test_redis_keeps_acknowledged_data(services: dict, compose: dict) -> None:
    redis = services["redis"]
    args = redis_args(redis)
    assert args["appendonly"] == "yes"
    assert args["appendfsync"] in {"always", "everysec"}
    assert args["maxmemory-policy"] == "noeviction"
    data_dir = args.get("dir", "/data")
    mounts = [str(volume).split(":") for volume in redis.get("volumes", [])]
    named = {source: target for source, target, *_ in mounts if not source.startswith((".", "/"))}
    assert data_dir in named.values(), "Redis data must live on a volume"
    assert set(named) <= set(compose.get("volumes") or {}), "named volumes must be declared"
    assert redis.get("healthcheck"), "the app services wait for a healthy Redis"


@pytest.mark.parametrize("name, subcommand", [("receiver", "receiver"), ("worker", "worker")])
def test_app_services_run_real_subcommands_on_the_one_redis(services: dict, name: str, subcommand: str) -> None:
    service = services[name]
    assert parse_command(service["command"])[0] == subcommand
    env = environment(service, env_file(REDIS_PASSWORD="from0the0env0file"))
    settings = settings_from(env)  # the service's environment loads as the app loads it
    # The one Redis, with the password its server requires (both from the env file).
    assert settings.redis_url == "redis://:from0the0env0file@redis:6379/0"
    assert environment(services["redis"], env_file(REDIS_PASSWORD="from0the0env0file"))["REDIS_PASSWORD"] == (
        "from0the0env0file")
    assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    raw_key = (service.get("environment") or {}).get("STRIPAY_MERCHANT_KEY", "")
    assert str(raw_key).startswith("${STRIPAY_MERCHANT_KEY"), "the merchant key comes from the operator, never the file"


def test_worker_grace_period_outlasts_the_job_timeout(services: dict) -> None:
    # The receiver writes the job timeout into each job; the worker honours it.
    timeout = max(settings_from(environment(services[name])).job_timeout_s for name in ("receiver", "worker"))
    assert seconds(services["worker"]["stop_grace_period"]) > timeout


def test_worker_metrics_port_is_the_one_prometheus_scrapes(services: dict) -> None:
    _, params = parse_command(services["worker"]["command"])
    assert params["processes"] >= 1
    assert params["metrics_port"] == scrape_ports()["worker"]
    assert str(params["metrics_port"]) in [str(port) for port in services["worker"].get("expose", [])]


def test_receiver_metrics_port_is_the_one_prometheus_scrapes(services: dict) -> None:
    receiver = services["receiver"]
    settings = settings_from(environment(receiver))
    assert settings.metrics_port == scrape_ports()["receiver"]
    assert settings.metrics_port != settings.port
    assert str(settings.metrics_port) in [str(port) for port in receiver.get("expose", [])]
    assert "/metrics" in receiver_metrics_paths() and "/metrics" not in receiver_get_paths()


def test_receiver_publishes_its_public_port_and_not_its_metrics_port(services: dict) -> None:
    receiver = services["receiver"]
    settings = settings_from(environment(receiver))
    published = [str(mapping) for mapping in receiver.get("ports", [])]
    assert any(mapping.endswith(f":{settings.port}") for mapping in published)
    assert not any(mapping.endswith(f":{settings.metrics_port}") for mapping in published)


def scrape_ports() -> dict[str, int]:
    config = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    ports = {}
    for job in config["scrape_configs"]:
        assert job.get("metrics_path", "/metrics") == "/metrics"
        for sd in job.get("dns_sd_configs", []):
            ports[job["job_name"]] = int(sd["port"])
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                ports[job["job_name"]] = int(target.rsplit(":", 1)[1])
    return ports


def test_healthchecks_hit_real_endpoints(services: dict) -> None:
    paths = receiver_get_paths()
    # The image's HEALTHCHECK probes the receiver's /healthz; a service that
    # runs something else from the same image must bring its own.
    assert "/healthz" in paths
    image = services["receiver"]["image"]
    for name, service in services.items():
        if service.get("image") == image and name != "receiver":
            check = " ".join(service.get("healthcheck", {}).get("test", []))
            assert check and "/healthz" not in check, f"{name} needs its own healthcheck"


def test_build_context_and_mounted_files_exist(services: dict) -> None:
    for name, service in services.items():
        build = service.get("build")
        if build:
            context = (COMPOSE_FILE.parent / build["context"]).resolve()
            assert context.is_dir(), name
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), name
            assert (context / "pyproject.toml").is_file(), f"{name}: the context must be the repository root"
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith("."):
                assert (COMPOSE_FILE.parent / source).exists(), f"{name}: {source} does not exist"


def test_prometheus_gets_its_config_and_rules(services: dict) -> None:
    mounts = dict(str(v).split(":")[:2] for v in services["prometheus"]["volumes"] if str(v).startswith("."))
    config_target = mounts["./prometheus/prometheus.yml"]
    config = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    for rule_file in config["rule_files"]:
        # Relative rule files resolve next to the config, inside the container too.
        assert mounts[f"./prometheus/{rule_file}"] == str(Path(config_target).parent / rule_file)


def test_grafana_is_provisioned_with_the_dashboard(services: dict) -> None:
    mounts = dict(str(v).split(":")[:2] for v in services["grafana"]["volumes"] if str(v).startswith("."))
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    providers = load_yaml(DEPLOY / "grafana" / "provisioning" / "dashboards" / "stripay-hooks.yaml")["providers"]
    dashboards_dir = {target: source for source, target in mounts.items()}[providers[0]["options"]["path"]]
    assert (COMPOSE_FILE.parent / dashboards_dir / "stripay-hooks.json").is_file()
    datasources = load_yaml(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yaml")["datasources"]
    assert datasources[0]["type"] == "prometheus"
    assert datasources[0]["url"].startswith("http://prometheus:")
