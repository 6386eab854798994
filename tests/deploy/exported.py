"""The metric names and label names this service really exports, gathered from
exposition text (a running receiver, a running worker, the queue collector)
and from the metric objects defined in :mod:`shared.metrics`."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"

# Labels Prometheus attaches to every scraped series, and the synthetic
# per-target series it records itself.
TARGET_LABELS = frozenset({"job", "instance"})
PROMETHEUS_SERIES = {"up": frozenset()}

SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
    "gauge": ("",),
}


@dataclass
class Exported:
    labels: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    values: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    sources: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    @property
    def names(self) -> set[str]:
        return set(self.labels)

    def add_name(self, name: str, labels: set[str] | frozenset[str], source: str) -> None:
        self.labels[name] |= set(labels)
        self.sources[name].add(source)

    def add_text(self, text: str, source: str) -> None:
        for family in text_string_to_metric_families(text):
            base = family.name.removesuffix("_total") if family.type == "counter" else family.name
            family_labels: set[str] = set()
            for sample in family.samples:
                self.add_name(sample.name, set(sample.labels), source)
                family_labels |= set(sample.labels) - {"le", "quantile"}
                for label, value in sample.labels.items():
                    self.values[(sample.name, label)].add(value)
            for suffix in SUFFIXES.get(family.type, ("",)):
                extra = {"le"} if suffix == "_bucket" else set()
                self.add_name(base + suffix, family_labels | extra, source)

    def add_metric_objects(self, module: object, source: str) -> None:
        """Metrics defined in a module, children or not (a labelled metric has no
        sample until its first use, so exposition text alone would miss it)."""
        for value in vars(module).values():
            if not isinstance(value, MetricWrapperBase):
                continue
            labels = set(value._labelnames)
            for suffix in SUFFIXES[value._type]:
                extra = {"le"} if suffix == "_bucket" else set()
                self.add_name(value._name + suffix, labels | extra, source)

    def merge(self, other: "Exported") -> None:
        for name, labels in other.labels.items():
            self.labels[name] |= labels
        for key, values in other.values.items():
            self.values[key] |= values
        for name, sources in other.sources.items():
            self.sources[name] |= sources


def load_yaml(path: Path) -> object:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def alert_rules() -> list[dict]:
    document = load_yaml(DEPLOY / "prometheus" / "alerts.yml")
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard() -> dict:
    import json

    return json.loads((DEPLOY / "grafana" / "dashboards" / "stripay-hooks.json").read_text(encoding="utf-8"))


def dashboard_panels() -> list[dict]:
    panels = []
    for panel in dashboard()["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # collapsed rows keep their panels inside
    return panels


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, expr) of every dashboard query."""
    return [
        (panel["title"], target["expr"])
        for panel in dashboard_panels()
        for target in panel.get("targets", [])
        if target.get("expr")
    ]


def all_queries() -> list[tuple[str, str]]:
    """(where, expr) of every dashboard query and alert rule."""
    return [(f"dashboard panel {title!r}", expr) for title, expr in dashboard_queries()] + [
        (f"alert {rule['alert']}", rule["expr"]) for rule in alert_rules()
    ]
