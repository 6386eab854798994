"""deploy/k8s: the manifests load, hang together, and run what the code provides."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

import pytest
import yaml

from tests.deploy.exported import DEPLOY
from tests.deploy.manifests import parse_command, receiver_get_paths, receiver_metrics_paths, settings_from

K8S = DEPLOY / "k8s"
LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/component")


def documents() -> Iterator[tuple[str, dict]]:
    for path in sorted(K8S.glob("*.y*ml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document is not None:
                yield path.name, document


def objects(kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for _, doc in documents() if doc["kind"] == kind}


def deployment(component: str) -> dict:
    (found,) = [d for d in objects("Deployment").values() if d["metadata"]["labels"].get(LABELS[1]) == component]
    return found


def container(component: str) -> dict:
    (only,) = deployment(component)["spec"]["template"]["spec"]["containers"]
    return only


def container_env(spec: dict, secrets: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a container starts with: ConfigMaps expanded, Secret keys taken from
    ``secrets`` (left out when not given), ``$(NAME)`` references expanded as Kubernetes does."""
    env: dict[str, str] = {}
    for source in spec.get("envFrom", []):
        env.update(objects("ConfigMap")[source["configMapRef"]["name"]]["data"])
    for item in spec.get("env", []):
        if "value" in item:
            env[item["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), item["value"])
        elif secrets is not None and "secretKeyRef" in item.get("valueFrom", {}):
            key = item["valueFrom"]["secretKeyRef"]["key"]
            if key in secrets:
                env[item["name"]] = secrets[key]
    return env


def env_of(component: str, secrets: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment the component's container starts with (see :func:`container_env`)."""
    return container_env(container(component), secrets)


def test_every_manifest_loads_and_is_in_the_kustomization() -> None:
    files = set()
    for name, document in documents():
        assert {"apiVersion", "kind", "metadata"} <= set(document), name
        assert document["metadata"].get("name"), name
        files.add(name)
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert set(kustomization["resources"]) == files


SECRET_WORDS = ("PASSWORD", "SECRET", "KEY")


def test_no_secret_values_are_committed() -> None:
    assert objects("Secret") == {}, "create the Secret with kubectl; never commit the key"
    for component in ("receiver", "worker"):
        env = {item["name"]: item for item in container(component).get("env", [])}
        key = env["STRIPAY_MERCHANT_KEY"]
        assert "value" not in key
        assert key["valueFrom"]["secretKeyRef"]["key"] == "STRIPAY_MERCHANT_KEY"
    receiver_env = {item["name"]: item for item in container("receiver").get("env", [])}
    assert receiver_env["BILLRUN_SHARED_SECRETS"]["valueFrom"]["secretKeyRef"] == {
        "name": "stripay-hooks", "key": "BILLRUN_SHARED_SECRETS"}
    assert "BILLRUN_SHARED_SECRETS" not in [item["name"] for item in container("worker").get("env", [])]
    for configmap in objects("ConfigMap").values():
        assert not [name for name in configmap["data"] if any(word in name for word in SECRET_WORDS)]
    for _, document in documents():
        for spec in document.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            for item in spec.get("env", []):
                if any(word in item["name"] for word in SECRET_WORDS):
                    assert "secretKeyRef" in item.get("valueFrom", {}), f"{spec['name']}: {item['name']}"


def test_receiver_gets_the_billrun_settings() -> None:
    env = env_of("receiver")
    assert env["STRIPAY_PUBLIC_URL"].startswith("https://")
    assert env["BILLRUN_REDIRECT_HOSTS"]


@pytest.mark.parametrize("component", ["receiver", "worker"])
def test_containers_run_real_subcommands_with_loadable_settings(component: str) -> None:
    spec = container(component)
    argv = list(spec.get("command", [])) + list(spec.get("args", []))
    assert parse_command(argv)[0] == component
    settings_from(env_of(component))  # the ConfigMap loads as the app loads it


@pytest.mark.parametrize("component", ["receiver", "worker"])
def test_pods_run_as_non_root_with_resources(component: str) -> None:
    pod = deployment(component)["spec"]["template"]["spec"]
    spec = container(component)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"].get("runAsUser", 1) != 0
    assert spec["securityContext"]["allowPrivilegeEscalation"] is False
    assert spec["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {"cpu", "memory"} <= set(spec["resources"]["requests"])
    assert "memory" in spec["resources"]["limits"]


@pytest.mark.parametrize("component", ["receiver", "worker"])
def test_selectors_match_their_pods(component: str) -> None:
    found = deployment(component)
    pod_labels = found["spec"]["template"]["metadata"]["labels"]
    assert found["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    for kind in ("Service", "PodDisruptionBudget"):
        for obj in objects(kind).values():
            selector = obj["spec"]["selector"]
            selector = selector.get("matchLabels", selector)
            if selector.get(LABELS[1]) == component:
                assert selector.items() <= pod_labels.items(), obj["metadata"]["name"]


def test_receiver_probes_point_at_real_paths_and_port() -> None:
    spec = container("receiver")
    paths = receiver_get_paths()
    assert spec["readinessProbe"]["httpGet"]["path"] == "/readyz" and "/readyz" in paths
    assert spec["livenessProbe"]["httpGet"]["path"] == "/healthz" and "/healthz" in paths
    port = settings_from(env_of("receiver")).port
    ports = {p.get("name"): p["containerPort"] for p in spec["ports"]}
    for probe in ("readinessProbe", "livenessProbe"):
        probe_port = spec[probe]["httpGet"]["port"]
        assert ports.get(probe_port, probe_port) == port


def test_receiver_metrics_are_scraped_on_the_metrics_port_not_the_public_one() -> None:
    settings = settings_from(env_of("receiver"))
    assert settings.metrics_port != settings.port
    ports = {p.get("name"): p["containerPort"] for p in container("receiver")["ports"]}
    assert ports["metrics"] == settings.metrics_port
    annotations = deployment("receiver")["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == settings.metrics_port
    assert annotations["prometheus.io/path"] in receiver_metrics_paths()
    assert annotations["prometheus.io/path"] not in receiver_get_paths()


def test_receiver_service_hpa_and_pdb() -> None:
    name = deployment("receiver")["metadata"]["name"]
    ports = {p.get("name"): p["containerPort"] for p in container("receiver")["ports"]}
    (service,) = [s for s in objects("Service").values() if s["spec"]["selector"].get(LABELS[1]) == "receiver"]
    for port in service["spec"]["ports"]:
        assert port["targetPort"] in ports or port["targetPort"] in ports.values()
        # The Service is what the ingress reaches: the public port only, never metrics.
        assert ports.get(port["targetPort"], port["targetPort"]) == settings_from(env_of("receiver")).port
    (hpa,) = objects("HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    pdbs = [p for p in objects("PodDisruptionBudget").values() if p["spec"]["selector"]["matchLabels"].get(LABELS[1]) == "receiver"]
    (pdb,) = pdbs
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"], "a drain must be able to evict a receiver"


def test_worker_grace_period_outlasts_the_job_timeout() -> None:
    timeout = max(settings_from(env_of(c)).job_timeout_s for c in ("receiver", "worker"))
    assert deployment("worker")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > timeout


def test_worker_exposes_its_metrics_port() -> None:
    spec = container("worker")
    _, params = parse_command(list(spec["command"]) + list(spec.get("args", [])))
    assert params["metrics_port"] in [p["containerPort"] for p in spec["ports"]]
    annotations = deployment("worker")["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == params["metrics_port"]
    mounts = {m["mountPath"] for m in spec.get("volumeMounts", [])}
    if spec["securityContext"].get("readOnlyRootFilesystem"):
        assert "/tmp" in mounts, "multiprocess metrics need a writable /tmp"


def test_images_are_the_one_the_kustomization_sets() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    names = {image["name"] for image in kustomization["images"]}
    for component in ("receiver", "worker"):
        assert container(component)["image"].split(":")[0] in names
