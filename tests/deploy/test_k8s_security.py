"""deploy/k8s keeps the stack closed: Redis requires the password of the Secret and REDIS_URL
carries it; NetworkPolicies let only receiver and worker pods reach Redis, only the ingress
controller reach the receiver's public port, and only Prometheus reach the metrics ports."""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from tests.deploy.manifests import parse_command, settings_from
from tests.deploy.redis_auth import redis_started_by
from tests.deploy.test_k8s import LABELS, container_env, env_of, objects

COMPONENTS = ("receiver", "worker", "redis")
SECRET = "stripay-hooks"


def workload(component: str) -> dict:
    (found,) = [w for kind in ("Deployment", "StatefulSet") for w in objects(kind).values()
                if w["metadata"]["labels"].get(LABELS[1]) == component]
    return found


def pod_labels(component: str) -> dict[str, str]:
    return workload(component)["spec"]["template"]["metadata"]["labels"]


def pod_container(component: str) -> dict:
    (only,) = workload(component)["spec"]["template"]["spec"]["containers"]
    return only


def selects(selector: dict, labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels and matchExpressions) applied to ``labels``."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        ok = {"In": key in labels and labels[key] in values,
              "NotIn": key not in labels or labels[key] not in values,
              "Exists": key in labels,
              "DoesNotExist": key not in labels}[operator]
        if not ok:
            return False
    return True


def ingress_rules(component: str) -> list[dict]:
    """Every ingress rule of every NetworkPolicy that selects the component's pods."""
    labels = pod_labels(component)
    policies = [p for p in objects("NetworkPolicy").values() if selects(p["spec"]["podSelector"], labels)]
    assert policies, f"no NetworkPolicy selects the {component} pods"
    for policy in policies:
        assert "Ingress" in policy["spec"]["policyTypes"], policy["metadata"]["name"]
    rules = [rule for policy in policies for rule in policy["spec"].get("ingress", [])]
    for rule in rules:
        assert rule.get("from"), f"{component}: a rule without `from` admits every source"
        assert rule.get("ports"), f"{component}: a rule without `ports` admits every port"
        for peer in rule["from"]:
            assert "ipBlock" not in peer, f"{component}: address ranges are not who we mean"
    return rules


def peers_for(component: str, port: int) -> list[dict]:
    return [peer for rule in ingress_rules(component) if port in [p["port"] for p in rule["ports"]]
            for peer in rule["from"]]


def open_ports(component: str) -> set[int]:
    return {p["port"] for rule in ingress_rules(component) for p in rule["ports"]}


def container_ports(component: str) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in pod_container(component)["ports"]}


def worker_metrics_port() -> int:
    spec = pod_container("worker")
    return parse_command(list(spec["command"]) + list(spec.get("args", [])))[1]["metrics_port"]


# --- NetworkPolicies ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("component", COMPONENTS)
def test_every_pod_of_the_stack_is_behind_an_ingress_policy(component: str) -> None:
    assert ingress_rules(component) is not None


def test_only_receiver_and_worker_pods_reach_redis() -> None:
    assert open_ports("redis") == {container_ports("redis")["redis"]}
    peers = peers_for("redis", container_ports("redis")["redis"])
    for peer in peers:
        assert set(peer) == {"podSelector"}, "pods of this namespace only"
    admitted = {c for c in COMPONENTS if any(selects(peer["podSelector"], pod_labels(c)) for peer in peers)}
    assert admitted == {"receiver", "worker"}
    stranger = {LABELS[0]: "stripay-hooks", LABELS[1]: "debug"}
    assert not any(selects(peer["podSelector"], stranger) for peer in peers)
    assert not any(selects(peer["podSelector"], {}) for peer in peers)


def is_outside_peer(peer: dict) -> bool:
    """A peer naming pods of another namespace: both selectors, neither empty."""
    return bool(peer.get("namespaceSelector")) and bool(peer.get("podSelector"))


def test_only_the_ingress_controller_reaches_the_receivers_public_port() -> None:
    settings = settings_from(env_of("receiver"))
    peers = peers_for("receiver", settings.port)
    assert peers
    for peer in peers:
        assert is_outside_peer(peer), peer
        assert "ingress" in " ".join(peer["podSelector"]["matchLabels"].values())
    assert not [peer for peer in peers if peer in peers_for("receiver", settings.metrics_port)]


def test_only_prometheus_reaches_the_metrics_ports() -> None:
    settings = settings_from(env_of("receiver"))
    assert open_ports("receiver") == {settings.port, settings.metrics_port}
    assert open_ports("worker") == {worker_metrics_port()}
    receiver_peers = peers_for("receiver", settings.metrics_port)
    worker_peers = peers_for("worker", worker_metrics_port())
    assert receiver_peers and receiver_peers == worker_peers
    for peer in receiver_peers:
        assert is_outside_peer(peer), peer
        assert "prometheus" in " ".join(peer["podSelector"]["matchLabels"].values())


# --- Redis with a password ---------------------------------------------------------------------------------


def redis_argv() -> list[str]:
    spec = pod_container("redis")
    return [*spec["command"], *spec.get("args", [])]


@pytest.fixture
def password() -> str:
    return secrets.token_hex(16)


def test_redis_password_comes_from_the_secret() -> None:
    env = {item["name"]: item for item in pod_container("redis")["env"]}
    assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": SECRET, "key": "REDIS_PASSWORD"}
    assert "REDIS_PASSWORD" in pod_container("redis")["command"][2]


def test_redis_keeps_acknowledged_data() -> None:
    args = pod_container("redis")["args"]
    options = {name[2:]: str(value) for name, value in zip(args[::2], args[1::2], strict=True)}
    assert options["appendonly"] == "yes"
    assert options["appendfsync"] in {"always", "everysec"}
    assert options["maxmemory-policy"] == "noeviction"
    mounts = {m["mountPath"]: m["name"] for m in pod_container("redis")["volumeMounts"]}
    claims = {t["metadata"]["name"] for t in workload("redis")["spec"]["volumeClaimTemplates"]}
    assert mounts[options["dir"]] in claims, "Redis data must live on a persistent volume"


def test_redis_refuses_clients_without_the_password(password: str, tmp_path: Path) -> None:
    with redis_started_by(redis_argv(), password, tmp_path) as started:
        with started.client() as anonymous, pytest.raises(redis.AuthenticationError):
            anonymous.ping()
        cmdline = Path(f"/proc/{started.pid}/cmdline").read_bytes()
        assert b"redis-server" in cmdline and password.encode() not in cmdline


def test_redis_url_carries_the_secrets_password_to_the_redis_service(password: str, tmp_path: Path) -> None:
    (service,) = [s for s in objects("Service").values() if s["spec"]["selector"].get(LABELS[1]) == "redis"]
    assert selects({"matchLabels": service["spec"]["selector"]}, pod_labels("redis"))
    (port,) = service["spec"]["ports"]
    assert container_ports("redis")[port["targetPort"]] == 6379
    with redis_started_by(redis_argv(), password, tmp_path) as started:
        for component in ("receiver", "worker"):
            url = urlsplit(settings_from(env_of(component, {"REDIS_PASSWORD": password})).redis_url or "")
            assert (url.hostname, url.port, url.password) == (service["metadata"]["name"], port["port"], password)
            local = url._replace(netloc=f":{url.password}@127.0.0.1:{started.port}").geturl()
            with redis.Redis.from_url(local, socket_timeout=2) as client:
                assert client.ping() is True, component


def test_redis_readiness_probe_authenticates(password: str, tmp_path: Path) -> None:
    command = pod_container("redis")["readinessProbe"]["exec"]["command"]
    assert password not in " ".join(command) and "-a" not in command
    with redis_started_by(redis_argv(), password, tmp_path) as started:
        env = container_env(pod_container("redis"), {"REDIS_PASSWORD": password})
        assert started.run_shell(command, env) == 0
        assert started.run_shell(command, {**env, "REDIS_PASSWORD": "not-" + password}) != 0
