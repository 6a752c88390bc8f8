"""deploy/k8s stays in step with the process table (shared/devstack/processes.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from shared.devstack.processes import Process, platform

pytestmark = pytest.mark.unit

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
SECRET = "fieldpay-secrets"
Doc = dict[str, Any]


def yaml_files() -> list[Path]:
    return sorted(K8S.glob("*.yaml")) + sorted(K8S.glob("*.yml"))


def load(path: Path) -> list[Doc]:
    with path.open(encoding="utf-8") as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc is not None]


def objects() -> list[Doc]:
    return [doc for path in yaml_files() if path.name != "kustomization.yaml" for doc in load(path)]


def of_kind(kind: str) -> list[Doc]:
    return [doc for doc in objects() if doc.get("kind") == kind]


def deployment_for(process: Process) -> Doc:
    [found] = [d for d in of_kind("Deployment") if d["metadata"]["name"] == process.name]
    return found


def container(deployment: Doc) -> Doc:
    [only] = deployment["spec"]["template"]["spec"]["containers"]
    return dict(only)


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
        port = probe["httpGet"]["port"]
        if isinstance(port, str):
            [port] = [p["containerPort"] for p in spec.get("ports", []) if p.get("name") == port]
        return int(port), str(probe["httpGet"]["path"])
    url = str(probe["exec"]["command"][-1])
    prefix = "http://127.0.0.1:"
    assert url.startswith(prefix), url
    port_text, _, path = url[len(prefix) :].partition("/")
    return int(port_text), "/" + path


def test_every_yaml_file_parses_into_kubernetes_objects() -> None:
    assert yaml_files(), f"no manifests under {K8S}"
    for path in yaml_files():
        for doc in load(path):
            assert isinstance(doc, dict), path
            assert doc.get("apiVersion") and doc.get("kind"), path


def test_kustomization_lists_every_file() -> None:
    kustomization = load(K8S / "kustomization.yaml")[0]
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed)), "a resource is listed twice"
    assert set(listed) == {p.name for p in yaml_files() if p.name != "kustomization.yaml"}


@pytest.mark.parametrize("process", platform(), ids=lambda p: p.name)
def test_each_process_has_one_matching_deployment(process: Process) -> None:
    deployment = deployment_for(process)
    spec = container(deployment)
    argv = list(spec["command"]) + list(spec.get("args", []))
    assert from_module_flag(argv) == expected_command(process)
    assert process.port in [p["containerPort"] for p in spec["ports"]]
    assert {"name": "PORT", "value": str(process.port)} in spec["env"]
    assert probe_target(spec["livenessProbe"], spec) == (process.port, "/healthz")
    assert probe_target(spec["readinessProbe"], spec) == (process.port, "/readyz")


@pytest.mark.parametrize("process", platform(), ids=lambda p: p.name)
def test_each_pod_is_labelled_scraped_limited_and_locked_down(process: Process) -> None:
    deployment = deployment_for(process)
    template = deployment["spec"]["template"]
    labels = template["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == process.name
    assert labels["app.kubernetes.io/component"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(process.port)
    assert annotations["prometheus.io/path"] == "/metrics"
    spec = container(deployment)
    assert spec["image"] == "fieldpay:latest"
    assert spec["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert {"requests", "limits"} <= spec["resources"].keys()


def test_relays_run_one_replica() -> None:
    relays = [p for p in platform() if p.name.endswith("-relay")]
    assert relays
    for process in relays:
        assert deployment_for(process)["spec"]["replicas"] == 1


def test_every_web_process_has_a_cluster_ip_service() -> None:
    services = {s["metadata"]["name"]: s for s in of_kind("Service")}
    for process in [p for p in platform() if p.web]:
        service = services[process.name]
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
        pod_labels = deployment_for(process)["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= pod_labels.items()
        [port] = service["spec"]["ports"]
        assert port["port"] == process.port
        assert port["targetPort"] in ("http", process.port)


def test_migrate_job_prepares_databases_and_topics() -> None:
    [job] = [j for j in of_kind("Job") if j["metadata"]["name"] == "fieldpay-migrate"]
    [spec] = job["spec"]["template"]["spec"]["containers"]
    assert from_module_flag(spec["command"]) == ["-m", "shared.devstack", "prepare"]


def test_no_secret_values_in_the_repository() -> None:
    for secret in of_kind("Secret"):
        assert not secret.get("data") and not secret.get("stringData"), secret["metadata"]
    for workload in of_kind("Deployment") + of_kind("Job"):
        for spec in workload["spec"]["template"]["spec"]["containers"]:
            for var in spec.get("env", []):
                name = var["name"]
                if name == "INTERNAL_API_TOKEN" or name.endswith("DATABASE_URL"):
                    assert "value" not in var, f"{name} must come from {SECRET}"
                    assert var["valueFrom"]["secretKeyRef"]["name"] == SECRET
