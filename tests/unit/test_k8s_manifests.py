"""deploy/k8s stays in step with the code and renders into valid Kubernetes objects.

The base (deploy/k8s/base, read as files) and each overlay (deploy/k8s/overlays/<name>, rendered
with `kubectl kustomize`, skipped when kubectl is not installed) are checked against the process
table (shared/devstack/processes.py), the topics of the contracts and the consumers' dead-letter
naming, and the services' Flask routes. Built-in kinds are validated against the Kubernetes JSON
schemas by kubernetes-validate (strict: unknown fields fail). It has no schemas for custom
resources, so the Strimzi KafkaTopic and the Prometheus Operator ServiceMonitor get their
required fields checked here by hand instead."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml  # type: ignore[import-untyped]
from prometheus_client import CollectorRegistry, make_wsgi_app

import shared.worker
from shared.consumer import Consumer
from shared.contracts import ALL_EVENTS
from shared.devstack.processes import WEB_PORTS, Process, platform
from shared.http import PROBES
from shared.kafka import KEEP_FOREVER, PARTITIONS, all_topics
from shared.settings import Settings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
OVERLAYS = ("dev", "prod")
NAMESPACES = {"base": "fieldpay", "dev": "fieldpay-dev", "prod": "fieldpay"}
SECRET = "fieldpay-secrets"
CONFIG = "fieldpay-config"
KUBECTL = shutil.which("kubectl")
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
"""The oldest Kubernetes the manifests target (autoscaling/v2, policy/v1 and
unhealthyPodEvictionPolicy are all there) and the newest kubernetes-validate knows."""
CUSTOM_KINDS = {
    "KafkaTopic": "kafka.strimzi.io/v1beta2",
    "ServiceMonitor": "monitoring.coreos.com/v1",
    "PrometheusRule": "monitoring.coreos.com/v1",
}
"""Custom resources kubernetes-validate has no schema for: checked field by field below."""
PUBLIC_WEB = ("gateway-web", "payments-web", "notifications-web")
INGRESS_NAMESPACE = "ingress-nginx"
MONITORING_NAMESPACE = "monitoring"
NAME_LABEL = "app.kubernetes.io/name"
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
Doc = dict[str, Any]

needs_kubectl = pytest.mark.skipif(
    KUBECTL is None and not os.environ.get("CI"),
    reason="kubectl (kustomize built in) is not installed: overlays not rendered",
)
"""Skipped on a developer's machine without kubectl; in CI (CI=true) a missing kubectl fails."""
SOURCES = [
    pytest.param("base", id="base"),
    *(pytest.param(name, id=name, marks=needs_kubectl) for name in OVERLAYS),
]


# --- reading the manifests -------------------------------------------------------------------


def yaml_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))


def load(path: Path) -> list[Doc]:
    with path.open(encoding="utf-8") as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc is not None]


@functools.cache
def base_objects() -> tuple[Doc, ...]:
    return tuple(
        doc for path in yaml_files(BASE) if path.name != "kustomization.yaml" for doc in load(path)
    )


@functools.cache
def rendered(overlay: str) -> tuple[Doc, ...]:
    assert KUBECTL is not None
    result = subprocess.run(
        [KUBECTL, "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize {overlay} failed:\n{result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc is not None)


def objects(source: str) -> list[Doc]:
    return list(base_objects() if source == "base" else rendered(source))


def of_kind(docs: Iterable[Doc], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc.get("kind") == kind]


def named(docs: Iterable[Doc], kind: str, name: str) -> Doc:
    found = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"{len(found)} {kind} named {name}"
    return found[0]


def pod_labels(workload: Doc) -> dict[str, str]:
    return dict(workload["spec"]["template"]["metadata"]["labels"])


def container(deployment: Doc) -> Doc:
    [only] = deployment["spec"]["template"]["spec"]["containers"]
    return dict(only)


def config(docs: Iterable[Doc]) -> dict[str, str]:
    return dict(named(docs, "ConfigMap", CONFIG)["data"])


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Kubernetes label-selector semantics (matchLabels and matchExpressions)."""
    if selector is None:
        return False
    assert set(selector) <= {"matchLabels", "matchExpressions"}, f"not a LabelSelector: {selector}"
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def service_selects(service: Doc, labels: Mapping[str, str]) -> bool:
    """A Service's selector (a plain map, unlike a LabelSelector) picks pods with these labels."""
    selector = service["spec"].get("selector") or {}
    return bool(selector) and selector.items() <= labels.items()


def container_port(spec: Doc, port: int | str) -> int | None:
    """A container port by number or by name (None: the container has no port of that name)."""
    if isinstance(port, int):
        return port
    numbers = [p["containerPort"] for p in spec.get("ports", []) if p.get("name") == port]
    assert len(numbers) <= 1, f"two ports named {port}"
    return int(numbers[0]) if numbers else None


# --- what the code says ----------------------------------------------------------------------


def deployment_for(docs: Iterable[Doc], process: Process) -> Doc:
    return named(docs, "Deployment", process.name)


def from_module_flag(argv: list[str] | tuple[str, ...]) -> list[str]:
    """The argv from ``-m`` on: the interpreter's path differs between a laptop and an image."""
    return list(argv[list(argv).index("-m") :])


def expected_command(process: Process) -> list[str]:
    """The process table's argv, except that gunicorn binds every interface in a pod (the
    kubelet's probes, the Service and Prometheus connect to the pod IP, not to 127.0.0.1)."""
    argv = from_module_flag(process.argv)
    if "--bind" in argv:
        argv[argv.index("--bind") + 1] = f"0.0.0.0:{process.port}"
    return argv


def probe_target(probe: Doc, spec: Doc) -> tuple[int, str]:
    """(port, path) an httpGet probe, or an exec probe fetching http://127.0.0.1:<port><path>
    from inside the container, checks."""
    if "httpGet" in probe:
        port = container_port(spec, probe["httpGet"]["port"])
        assert port is not None, probe
        return port, str(probe["httpGet"]["path"])
    url = str(probe["exec"]["command"][-1])
    prefix = "http://127.0.0.1:"
    assert url.startswith(prefix), url
    port_text, _, path = url[len(prefix) :].partition("/")
    return int(port_text), "/" + path


class _RecordingProducer:
    def __init__(self) -> None:
        self.topics: list[str] = []

    def send(self, topic: str, **_: Any) -> _RecordingProducer:
        self.topics.append(topic)
        return self

    def flush(self) -> None:
        pass

    def get(self, timeout: float) -> None:
        pass


class _NoSubscription:
    def subscription(self) -> None:
        return None


class _Record:
    def __init__(self, topic: str) -> None:
        self.topic, self.partition, self.offset = topic, 0, 0
        self.key, self.value = b"k", b"v"
        self.headers: list[tuple[str, bytes]] = []


def dead_letter_topic(topic: str) -> str:
    """Where the consumer (shared/consumer.py) publishes a record of ``topic`` it gives up on:
    its own dead-lettering code run against a recording producer."""
    producer = _RecordingProducer()
    consumer = Consumer("k8s-test", "", _NoSubscription(), producer, {})
    record = _Record(topic)
    batch = type("Batch", (), {"dead_letters": [(record, ValueError("poison"))]})()
    consumer._publish_dead_letters(batch)
    [sent] = producer.topics
    return sent


def event_topics() -> list[str]:
    return [cls.topic for cls in ALL_EVENTS]


def code_topics() -> dict[str, str]:
    """Every topic the code uses, event or dead-letter: the contracts' event topics, where the
    consumers dead-letter each, and what `shared.devstack prepare` creates (shared.kafka)."""
    topics = {topic: "event" for topic in event_topics()}
    topics |= {dead_letter_topic(topic): "dead-letter" for topic in event_topics()}
    for topic in all_topics():
        topics.setdefault(topic, "dead-letter" if topic.endswith(".dlq") else "event")
    return topics


_ROUTES_SCRIPT = """
import json, importlib
from services.notifications.entrypoints.flask_app import WEBHOOKS
found = {}
for service in ("gateway", "payments", "notifications"):
    app = importlib.import_module(f"services.{service}.entrypoints.flask_app").app
    found[service] = sorted(rule.rule for rule in app.url_map.iter_rules())
print(json.dumps({"routes": found, "notifications_public": [WEBHOOKS]}))
"""


@functools.cache
def web_routes() -> Doc:
    """The URL rules of the three public web apps, read in a child process: importing an app
    registers its business-figure collectors (database queries at scrape time) in
    prometheus_client's global registry, which this test process must not inherit."""
    result = subprocess.run(
        [sys.executable, "-c", _ROUTES_SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    found: Doc = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def routes(service: str) -> list[str]:
    """The app's URL rules as sample paths (each variable part replaced by a value)."""
    rules = web_routes()["routes"][service]
    return sorted({re.sub(r"<[^>]+>", "x1", rule) for rule in rules})


def public_routes(backend: str) -> list[str]:
    """The routes meant for the outside: the staff app's every page and asset (not the probes
    or /metrics); payments' pay page and Stripe webhook (the ``public=`` prefixes its build_app
    gives create_app); notifications' provider webhooks (its WEBHOOKS prefix)."""
    service = backend.removesuffix("-web")
    prefixes = {
        "payments": ("/p/", "/webhooks/"),
        "notifications": tuple(web_routes()["notifications_public"]),
    }
    found = [path for path in routes(service) if path not in PROBES]
    if service in prefixes:
        found = [path for path in found if path.startswith(prefixes[service])]
    return found


def ingress_matches(path_spec: Doc, path: str) -> bool:
    """Kubernetes Ingress path matching (Exact, or Prefix by whole path elements)."""
    wanted = str(path_spec["path"])
    if path_spec["pathType"] == "Exact":
        return path == wanted
    assert path_spec["pathType"] == "Prefix", path_spec
    stem = wanted.rstrip("/")
    return stem == "" or path == stem or path.startswith(stem + "/")


def ingress_paths(docs: Iterable[Doc]) -> list[tuple[str, Doc]]:
    return [
        (rule.get("host", "*"), path)
        for ingress in of_kind(docs, "Ingress")
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]


# --- the files -------------------------------------------------------------------------------


def test_every_base_file_parses_into_kubernetes_objects() -> None:
    assert yaml_files(BASE), f"no manifests under {BASE}"
    for path in yaml_files(BASE):
        docs = load(path)
        assert docs, path
        for doc in docs:
            assert isinstance(doc, dict), path
            assert doc.get("apiVersion") and doc.get("kind"), path


def test_base_kustomization_lists_every_file() -> None:
    kustomization = load(BASE / "kustomization.yaml")[0]
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed)), "a resource is listed twice"
    assert set(listed) == {p.name for p in yaml_files(BASE) if p.name != "kustomization.yaml"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_overlay_builds_on_the_base_in_its_namespace(overlay: str) -> None:
    [kustomization] = load(K8S / "overlays" / overlay / "kustomization.yaml")
    assert "../../base" in kustomization["resources"]
    assert kustomization["namespace"] == NAMESPACES[overlay]
    assert not (K8S / "kustomization.yaml").exists(), "apply an overlay, not deploy/k8s"


_schema_contents = functools.cache(kubernetes_validate.utils.schema_contents)
"""kubernetes-validate reads its (large, unchanging) schema files again on every call: a
read-through cache makes validating a few hundred objects take a second, not ten."""


@pytest.mark.parametrize("source", SOURCES)
def test_every_object_validates_against_the_kubernetes_schemas(
    source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kubernetes_validate.utils, "schema_contents", _schema_contents)
    errors: list[str] = []
    for doc in objects(source):
        kind, name = doc["kind"], doc["metadata"]["name"]
        if kind in CUSTOM_KINDS:
            assert doc["apiVersion"] == CUSTOM_KINDS[kind], (kind, name)
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                where = "/".join(str(p) for p in exc.path)
                errors.append(f"{kind}/{name} @{version} {where}: {exc.message}")
            except kubernetes_validate.SchemaNotFoundError:
                errors.append(f"{kind}/{name}: {doc['apiVersion']} unknown to Kubernetes {version}")
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("source", SOURCES)
def test_every_namespaced_object_is_in_the_namespace(source: str) -> None:
    namespace = NAMESPACES[source]
    docs = objects(source)
    assert [n["metadata"]["name"] for n in of_kind(docs, "Namespace")] == [namespace]
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == namespace, (doc["kind"], doc["metadata"])


# --- workloads -------------------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("process", platform(), ids=lambda p: p.name)
def test_each_process_has_one_matching_deployment(source: str, process: Process) -> None:
    deployment = deployment_for(objects(source), process)
    spec = container(deployment)
    argv = list(spec["command"]) + list(spec.get("args", []))
    assert from_module_flag(argv) == expected_command(process)
    assert process.port in [p["containerPort"] for p in spec["ports"]]
    assert {"name": "PORT", "value": str(process.port)} in spec["env"]
    assert probe_target(spec["livenessProbe"], spec) == (process.port, "/healthz")
    assert probe_target(spec["readinessProbe"], spec) == (process.port, "/readyz")


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("process", platform(), ids=lambda p: p.name)
def test_each_pod_is_labelled_scraped_limited_and_locked_down(
    source: str, process: Process
) -> None:
    deployment = deployment_for(objects(source), process)
    template = deployment["spec"]["template"]
    labels = template["metadata"]["labels"]
    assert labels[NAME_LABEL] == process.name
    kind = "web" if process.web else process.name.rsplit("-", 1)[1]
    assert labels["app.kubernetes.io/component"] == kind
    assert selects(deployment["spec"]["selector"], labels)
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(process.port)
    assert annotations["prometheus.io/path"] == "/metrics"
    spec = container(deployment)
    assert spec["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["allowPrivilegeEscalation"] is False


@pytest.mark.parametrize("source", SOURCES)
def test_every_container_has_probes_and_resource_requests_and_limits(source: str) -> None:
    docs = objects(source)
    deployments = of_kind(docs, "Deployment")
    assert {d["metadata"]["name"] for d in deployments} == {p.name for p in platform()}
    for workload in deployments + of_kind(docs, "Job"):
        for spec in workload["spec"]["template"]["spec"]["containers"]:
            where = f"{workload['metadata']['name']}/{spec['name']}"
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= spec["resources"][bound].keys(), (where, bound)
            if workload["kind"] == "Deployment":
                assert "httpGet" in spec["livenessProbe"], where
                assert "httpGet" in spec["readinessProbe"], where


def test_the_probed_paths_are_served_by_the_web_apps() -> None:
    """Web processes answer /healthz, /readyz and /metrics (the ServiceMonitor's path)."""
    for service in ("gateway", "payments", "notifications"):
        assert {"/healthz", "/readyz", "/metrics"} <= set(routes(service)), service


class _FreshLoop:
    def __init__(self) -> None:
        self.last_beat = time.monotonic()

    def run(self, stop: threading.Event) -> None:
        pass


def test_the_probed_paths_are_served_by_the_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker's own server (shared/worker.py) answers the probes and the ServiceMonitor."""
    monkeypatch.setenv("BIND_HOST", "127.0.0.1")
    # An empty registry: the global one may hold collectors that query a database.
    empty = CollectorRegistry()
    monkeypatch.setattr(shared.worker, "make_wsgi_app", lambda: make_wsgi_app(empty))
    server = shared.worker._serve_health([_FreshLoop()], 0)
    try:
        for path in ("/healthz", "/readyz", "/metrics"):
            url = f"http://127.0.0.1:{server.server_port}{path}"
            with urllib.request.urlopen(url, timeout=5) as response:
                assert response.status == 200, path
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("source", SOURCES)
def test_relays_and_the_scheduler_run_one_replica_without_autoscaling(source: str) -> None:
    docs = objects(source)
    singles = [p for p in platform() if p.name.endswith(("-relay", "-scheduler"))]
    assert singles
    scaled = {h["spec"]["scaleTargetRef"]["name"] for h in of_kind(docs, "HorizontalPodAutoscaler")}
    for process in singles:
        assert deployment_for(docs, process)["spec"]["replicas"] == 1, process.name
        assert process.name not in scaled, process.name


@pytest.mark.parametrize("source", SOURCES)
def test_every_web_deployment_and_consumer_has_a_horizontal_pod_autoscaler(source: str) -> None:
    docs = objects(source)
    hpas = of_kind(docs, "HorizontalPodAutoscaler")
    for process in platform():
        if not (process.web or process.name.endswith("-consumer")):
            continue
        found = [h for h in hpas if h["spec"]["scaleTargetRef"]["name"] == process.name]
        assert len(found) == 1, f"{process.name}: {len(found)} HorizontalPodAutoscalers"
        [hpa] = found
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        low, high = hpa["spec"].get("minReplicas", 1), hpa["spec"]["maxReplicas"]
        assert 1 <= low <= high, process.name
        assert hpa["spec"]["metrics"], process.name
        if not process.web:  # one consumer per partition at most
            assert high <= PARTITIONS, process.name
        # The HPA owns the count: a `replicas` in the manifest would reset it on every apply.
        assert "replicas" not in deployment_for(docs, process)["spec"], process.name


@pytest.mark.parametrize("source", SOURCES)
def test_every_deployment_has_a_pod_disruption_budget_that_never_blocks_a_drain(
    source: str,
) -> None:
    docs = objects(source)
    pdbs = of_kind(docs, "PodDisruptionBudget")
    floors = {
        h["spec"]["scaleTargetRef"]["name"]: h["spec"].get("minReplicas", 1)
        for h in of_kind(docs, "HorizontalPodAutoscaler")
    }
    for deployment in of_kind(docs, "Deployment"):
        name = deployment["metadata"]["name"]
        found = [p for p in pdbs if selects(p["spec"]["selector"], pod_labels(deployment))]
        assert len(found) == 1, f"{name}: {len(found)} PodDisruptionBudgets select its pods"
        [pdb] = found
        assert pdb["apiVersion"] == "policy/v1"
        spec = pdb["spec"]
        replicas = floors.get(name, deployment["spec"].get("replicas", 1))
        if "maxUnavailable" in spec:
            assert isinstance(spec["maxUnavailable"], int) and spec["maxUnavailable"] >= 1, name
        else:
            assert isinstance(spec["minAvailable"], int) and spec["minAvailable"] < replicas, name


@pytest.mark.parametrize("source", SOURCES)
def test_every_web_process_has_a_cluster_ip_service(source: str) -> None:
    docs = objects(source)
    for process in [p for p in platform() if p.web]:
        service = named(docs, "Service", process.name)
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
        assert service_selects(service, pod_labels(deployment_for(docs, process)))
        [port] = service["spec"]["ports"]
        assert port["port"] == process.port
        assert port["targetPort"] in ("http", process.port)


@pytest.mark.parametrize("source", SOURCES)
def test_the_staff_app_reaches_every_service_by_its_service(source: str) -> None:
    """shared/settings.py defaults each <SERVICE>_URL to 127.0.0.1, the gateway's own pod."""
    docs = objects(source)
    env = {
        var["name"]: var.get("value")
        for var in container(named(docs, "Deployment", "gateway-web"))["env"]
    }
    services = [s for s in WEB_PORTS if f"{s}_url" in Settings.model_fields]
    assert len(services) == len(WEB_PORTS) - 1
    for service in services:
        assert env[f"{service.upper()}_URL"] == f"http://{service}-web:{WEB_PORTS[service]}"


@pytest.mark.parametrize("source", SOURCES)
def test_migrate_job_prepares_databases_and_topics(source: str) -> None:
    job = named(objects(source), "Job", "fieldpay-migrate")
    [spec] = job["spec"]["template"]["spec"]["containers"]
    assert from_module_flag(spec["command"]) == ["-m", "shared.devstack", "prepare"]


@pytest.mark.parametrize("source", SOURCES)
def test_one_image_for_every_container(source: str) -> None:
    docs = objects(source)
    workloads = of_kind(docs, "Deployment") + of_kind(docs, "Job")
    images = {c["image"] for w in workloads for c in w["spec"]["template"]["spec"]["containers"]}
    if source == "base":
        assert images == {"fieldpay:latest"}
    else:
        [image] = images
        assert "/" in image and ":latest" not in image, f"{source}: pin a registry image"


# --- settings and secrets --------------------------------------------------------------------


def documented_secret_keys() -> set[str]:
    """The keys of the table under '## The Secret' in deploy/k8s/README.md."""
    text = (K8S / "README.md").read_text(encoding="utf-8")
    section = text.split("## The Secret", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z0-9_]+)` \|", section, flags=re.MULTILINE))


@pytest.mark.parametrize("source", SOURCES)
def test_no_secret_values_and_every_secret_key_documented(source: str) -> None:
    docs = objects(source)
    assert not of_kind(docs, "Secret"), f"{SECRET} is created out of band, never applied from here"
    documented = documented_secret_keys()
    assert {"INTERNAL_API_TOKEN", "DATABASE_URL"} <= documented
    for workload in of_kind(docs, "Deployment") + of_kind(docs, "Job"):
        for spec in workload["spec"]["template"]["spec"]["containers"]:
            for source_ref in spec.get("envFrom", []):
                if "secretRef" in source_ref:
                    assert source_ref["secretRef"]["name"] == SECRET
                else:
                    assert source_ref["configMapRef"]["name"] == CONFIG
            for var in spec.get("env", []):
                name = var["name"]
                if "valueFrom" in var and "secretKeyRef" in var["valueFrom"]:
                    ref = var["valueFrom"]["secretKeyRef"]
                    assert ref["name"] == SECRET, name
                    assert ref["key"] in documented, f"{ref['key']}: not in README's Secret table"
                if name in documented or name.endswith(("DATABASE_URL", "_SECRET", "_KEY")):
                    assert "value" not in var, f"{name} must come from {SECRET}"
    for key in config(docs):
        assert key not in documented, f"{key} is a secret: not in the ConfigMap"


# --- Kafka topics ----------------------------------------------------------------------------


def kafka_topics(docs: Iterable[Doc]) -> dict[str, Doc]:
    found: dict[str, Doc] = {}
    for doc in of_kind(docs, "KafkaTopic"):
        topic = doc["spec"].get("topicName", doc["metadata"]["name"])
        assert topic not in found, f"two KafkaTopics for {topic}"
        found[topic] = doc
    return found


def test_the_code_has_event_and_dead_letter_topics() -> None:
    topics = code_topics()
    assert len(event_topics()) >= 10
    for topic in event_topics():
        assert topics[dead_letter_topic(topic)] == "dead-letter"
        assert dead_letter_topic(topic) != topic


@pytest.mark.parametrize("source", SOURCES)
def test_every_topic_the_code_uses_has_a_kafka_topic_and_a_dead_letter_topic(
    source: str,
) -> None:
    declared = kafka_topics(objects(source))
    missing = sorted(set(code_topics()) - set(declared))
    assert not missing, f"no KafkaTopic for {missing}"
    for topic in event_topics():
        assert dead_letter_topic(topic) in declared, topic
    unknown = sorted(set(declared) - set(code_topics()))
    assert not unknown, f"KafkaTopics for topics the code does not use: {unknown}"


@pytest.mark.parametrize("source", SOURCES)
def test_kafka_topics_are_complete_strimzi_resources(source: str) -> None:
    """By hand, as kubernetes-validate has no schema for Strimzi's CRD: apiVersion, kind, a
    valid name, the cluster label matching KAFKA_BOOTSTRAP_SERVERS, the code's partition count,
    TOPIC_REPLICATION_FACTOR replicas, and the retention `prepare` gives the topics."""
    docs = objects(source)
    settings = config(docs)
    bootstrap_host = settings["KAFKA_BOOTSTRAP_SERVERS"].split(",")[0].split(":")[0]
    replicas = int(settings["TOPIC_REPLICATION_FACTOR"])
    kinds = code_topics()
    for topic, doc in kafka_topics(docs).items():
        assert doc["apiVersion"] == "kafka.strimzi.io/v1beta2", topic
        assert doc["kind"] == "KafkaTopic"
        name = doc["metadata"]["name"]
        assert DNS_SUBDOMAIN.fullmatch(name) and len(name) <= 253, name
        cluster = doc["metadata"]["labels"]["strimzi.io/cluster"]
        assert bootstrap_host.startswith(f"{cluster}-kafka-bootstrap."), (topic, cluster)
        spec = doc["spec"]
        assert isinstance(spec["partitions"], int) and spec["partitions"] > 0, topic
        assert spec["partitions"] == PARTITIONS, topic
        assert spec["replicas"] == replicas, topic
        settings_of_topic = {k: str(v) for k, v in spec["config"].items()}
        assert int(settings_of_topic.get("min.insync.replicas", "1")) <= replicas, topic
        if kinds[topic] == "event":
            assert spec["config"]["retention.ms"] in ("-1", -1), topic
        # `prepare` creates every topic, dead letters too, with KEEP_FOREVER: both agree.
        assert KEEP_FOREVER.items() <= settings_of_topic.items(), topic


# --- monitoring ------------------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
def test_the_service_monitor_scrapes_every_process(source: str) -> None:
    docs = objects(source)
    [monitor] = of_kind(docs, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    spec = monitor["spec"]
    assert spec["selector"] and spec["endpoints"]
    endpoints = {e["port"]: e for e in spec["endpoints"]}
    for endpoint in endpoints.values():
        assert endpoint["path"] == "/metrics"
    services = [
        s for s in of_kind(docs, "Service") if selects(spec["selector"], s["metadata"]["labels"])
    ]
    for process in platform():
        deployment = deployment_for(docs, process)
        scraped = [
            (
                service["metadata"]["name"],
                container_port(container(deployment), port.get("targetPort", port["port"])),
            )
            for service in services
            if service_selects(service, pod_labels(deployment))
            for port in service["spec"]["ports"]
            if port.get("name") in endpoints
        ]
        # The Prometheus Operator labels the samples job=<Service name>: the process's name, as
        # in `make run`'s scrape config, which the alert rules (deploy/prometheus) rely on.
        assert scraped == [(process.name, process.port)], f"{process.name}: scraped as {scraped}"


# --- the way in ------------------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
def test_the_ingress_routes_only_to_the_staff_app_the_pay_page_and_webhooks(
    source: str,
) -> None:
    docs = objects(source)
    paths = ingress_paths(docs)
    backends = {path["backend"]["service"]["name"] for _, path in paths}
    assert backends == set(PUBLIC_WEB)
    for ingress in of_kind(docs, "Ingress"):
        assert "defaultBackend" not in ingress["spec"]
    for _, path in paths:
        service = named(docs, "Service", path["backend"]["service"]["name"])
        port = path["backend"]["service"]["port"]
        ports = [p.get("name") for p in service["spec"]["ports"]] + [
            p["port"] for p in service["spec"]["ports"]
        ]
        assert port.get("name", port.get("number")) in ports, path


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("backend", PUBLIC_WEB)
def test_the_ingress_exposes_each_public_route_and_no_other(source: str, backend: str) -> None:
    paths = [
        p for _, p in ingress_paths(objects(source)) if p["backend"]["service"]["name"] == backend
    ]
    public = public_routes(backend)
    assert public, backend
    unrouted = [route for route in public if not any(ingress_matches(p, route) for p in paths)]
    assert not unrouted, f"{backend}: add Ingress paths for {unrouted}"
    internal = set(routes(backend.removesuffix("-web"))) - set(public)
    exposed = [route for route in internal if any(ingress_matches(p, route) for p in paths)]
    assert not exposed, f"{backend}: {exposed} must not be reachable from outside"
    for path in paths:
        assert any(ingress_matches(path, route) for route in public), f"dead path {path}"


@pytest.mark.parametrize("source", SOURCES)
def test_the_public_addresses_are_the_ingress_hosts_under_tls(source: str) -> None:
    docs = objects(source)
    settings = config(docs)
    by_host: dict[str, list[Doc]] = {}
    for host, path in ingress_paths(docs):
        by_host.setdefault(host, []).append(path)
    tls_hosts = {h for i in of_kind(docs, "Ingress") for t in i["spec"]["tls"] for h in t["hosts"]}
    assert set(by_host) <= tls_hosts
    pay, hooks = urlsplit(settings["PAY_BASE_URL"]), urlsplit(settings["NOTIFICATIONS_PUBLIC_URL"])
    assert pay.scheme == hooks.scheme == "https"
    wanted = {
        (pay.hostname, "/p/x1"): "payments-web",
        # STRIPE_WEBHOOK_SECRET signs the endpoint https://<pay host>/webhooks/stripe
        (pay.hostname, "/webhooks/stripe"): "payments-web",
        (hooks.hostname, "/webhooks/twilio/status"): "notifications-web",
        (hooks.hostname, "/webhooks/twilio/inbound"): "notifications-web",
        (hooks.hostname, "/webhooks/sendgrid"): "notifications-web",
    }
    for (public_host, route), backend in wanted.items():
        served = [
            p["backend"]["service"]["name"]
            for p in by_host.get(str(public_host), [])
            if ingress_matches(p, route)
        ]
        assert served == [backend], f"https://{public_host}{route} -> {served}"


def policy_rules(docs: Iterable[Doc], labels: Mapping[str, str]) -> list[Doc]:
    """The ingress rules of every NetworkPolicy that selects pods with these labels."""
    return [
        rule
        for policy in of_kind(docs, "NetworkPolicy")
        if "Ingress" in policy["spec"].get("policyTypes", ["Ingress"])
        and selects(policy["spec"]["podSelector"], labels)
        for rule in policy["spec"].get("ingress", [])
    ]


def peer_namespace(peer: Doc) -> str | None:
    """The namespace a peer allows by name (None: this namespace, a podSelector only)."""
    if "ipBlock" in peer:
        raise AssertionError(f"an ipBlock lets in anything: {peer}")
    if "namespaceSelector" not in peer:
        return None
    match = peer["namespaceSelector"].get("matchLabels") or {}
    assert list(match) == ["kubernetes.io/metadata.name"], f"select namespaces by name: {peer}"
    return str(match["kubernetes.io/metadata.name"])


def allowed_ports(spec: Doc, rule: Doc) -> set[int]:
    """The container's ports a rule opens (a named port the container lacks opens nothing)."""
    ports = {container_port(spec, p["port"]) for p in rule["ports"]}
    return {port for port in ports if port is not None}


@pytest.mark.parametrize("source", SOURCES)
def test_network_policies_deny_by_default_and_let_in_only_what_is_needed(source: str) -> None:
    docs = objects(source)
    deny = [
        p
        for p in of_kind(docs, "NetworkPolicy")
        if p["spec"]["podSelector"] == {}
        and "Ingress" in p["spec"]["policyTypes"]
        and not p["spec"].get("ingress")
    ]
    assert deny, "no default-deny ingress NetworkPolicy"
    gateway_labels = pod_labels(named(docs, "Deployment", "gateway-web"))
    for process in platform():
        deployment = deployment_for(docs, process)
        spec = container(deployment)
        from_ingress, from_monitoring, from_gateway = set(), set(), set()
        for rule in policy_rules(docs, pod_labels(deployment)):
            assert rule.get("from") and rule.get("ports"), f"{process.name}: open rule {rule}"
            for peer in rule["from"]:
                namespace = peer_namespace(peer)
                if namespace == INGRESS_NAMESPACE:
                    from_ingress |= allowed_ports(spec, rule)
                elif namespace == MONITORING_NAMESPACE:
                    from_monitoring |= allowed_ports(spec, rule)
                elif namespace is None:
                    if selects(peer["podSelector"], gateway_labels):
                        from_gateway |= allowed_ports(spec, rule)
                else:
                    raise AssertionError(f"{process.name}: let in from {namespace}")
        public = process.name in PUBLIC_WEB
        assert from_ingress == ({process.port} if public else set()), process.name
        assert from_monitoring == {process.port}, process.name
        internal_api = process.web and process.name != "gateway-web"
        assert (process.port in from_gateway) == internal_api, process.name


# --- the overlays ----------------------------------------------------------------------------


@needs_kubectl
def test_dev_runs_one_pod_per_process_pulling_its_moving_image() -> None:
    docs = rendered("dev")
    for hpa in of_kind(docs, "HorizontalPodAutoscaler"):
        assert hpa["spec"]["minReplicas"] == 1
    for workload in of_kind(docs, "Deployment") + of_kind(docs, "Job"):
        for spec in workload["spec"]["template"]["spec"]["containers"]:
            assert spec["imagePullPolicy"] == "Always"
    assert config(docs)["TOPIC_REPLICATION_FACTOR"] == "1"


@needs_kubectl
def test_prod_keeps_spare_web_pods_and_bigger_resources_than_dev() -> None:
    prod, dev = rendered("prod"), rendered("dev")
    for hpa in of_kind(prod, "HorizontalPodAutoscaler"):
        assert hpa["spec"]["minReplicas"] >= 2
    assert int(config(prod)["TOPIC_REPLICATION_FACTOR"]) >= 3

    def memory_mib(docs: Iterable[Doc], name: str) -> int:
        text = container(named(docs, "Deployment", name))["resources"]["requests"]["memory"]
        assert text.endswith("Mi"), text
        return int(text[:-2])

    for process in platform():
        assert memory_mib(prod, process.name) > memory_mib(dev, process.name), process.name
