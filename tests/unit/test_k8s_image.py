"""The Dockerfile builds the image deploy/k8s runs (no build here: only what can be read).

It must match the manifests (user, working directory), install runtime dependencies only, and
leave out nothing a process imports: every process of the table, and the migrate Job, is
imported in a child process with the left-out packages made unimportable."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from shared.devstack.processes import platform

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
BASE = ROOT / "deploy" / "k8s" / "base"
Doc = dict[str, Any]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def pod_specs() -> list[Doc]:
    specs = []
    for path in sorted(BASE.glob("*.yaml")):
        with path.open(encoding="utf-8") as stream:
            for doc in yaml.safe_load_all(stream):
                if doc and doc.get("kind") in ("Deployment", "Job"):
                    specs.append(doc["spec"]["template"]["spec"])
    return specs


def left_out_packages() -> list[str]:
    """The requirements.txt names the Dockerfile filters out (`grep -vE '^(a|b)=='`)."""
    [pattern] = re.findall(r"grep -vE '\^\(([^)]*)\)=='", DOCKERFILE.read_text(encoding="utf-8"))
    return str(pattern).split("|")


def test_every_stage_starts_from_python_3_11_slim() -> None:
    bases = [args.split()[0] for word, args in instructions() if word == "FROM"]
    assert bases and all(base == "python:3.11-slim" for base in bases), bases


def test_the_image_runs_as_the_manifests_user_from_app() -> None:
    final = final_stage()
    [user] = [args for word, args in final if word == "USER"]
    uid, _, gid = user.partition(":")
    [workdir] = [args for word, args in final if word == "WORKDIR"]
    assert workdir == "/app"
    copied = [args.split()[-1] for word, args in final if word == "COPY" and "--from" not in args]
    assert {"./services", "./shared"} <= set(copied)
    specs = pod_specs()
    assert specs
    for spec in specs:
        assert spec["securityContext"]["runAsUser"] == int(uid)
        assert spec["securityContext"]["runAsGroup"] == int(gid or uid)
        for container in spec["containers"]:
            assert container["workingDir"] == workdir


def test_runtime_requirements_only() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "requirements.txt" in text
    assert "requirements-dev" not in re.sub(r"#.*", "", text)
    pinned = {
        line.split("==")[0].split("[")[0]
        for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if "==" in line and not line.startswith("#")
    }
    assert set(left_out_packages()) <= pinned, "the Dockerfile filters out a package not there"


def test_the_build_context_holds_only_what_the_image_copies() -> None:
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    rules = [line.strip() for line in ignore if line.strip() and not line.startswith("#")]
    assert rules[0] == "*", "start from nothing, then let in what COPY needs"
    let_in = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    for word, args in instructions():
        if word == "COPY" and "--from" not in args:
            for source in args.split()[:-1]:
                assert source.rstrip("/") in let_in, f"COPY {source}: excluded by .dockerignore"


def module_names(distribution: str) -> list[str]:
    """The top-level modules an installed distribution provides."""
    by_module = importlib.metadata.packages_distributions()
    wanted = re.sub(r"[-_.]+", "-", distribution).lower()
    return sorted(
        module
        for module, owners in by_module.items()
        if any(re.sub(r"[-_.]+", "-", owner).lower() == wanted for owner in owners)
    )


def test_no_process_imports_a_package_the_image_leaves_out() -> None:
    blocked = [m for package in left_out_packages() for m in module_names(package)]
    assert blocked, "the left-out packages are not installed here: nothing to check"
    modules = ["shared.devstack.__main__"]  # the migrate Job: python -m shared.devstack prepare
    for process in platform():
        target = process.argv[-1] if process.web else process.argv[process.argv.index("-m") + 1]
        modules.append(target.split(":")[0])
    script = (
        "import importlib, sys\n"
        f"for name in {blocked!r}:\n"
        "    sys.modules[name] = None\n"
        f"for module in {modules!r}:\n"
        "    importlib.import_module(module)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
