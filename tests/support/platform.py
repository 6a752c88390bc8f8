"""Run the platform's real processes for end-to-end tests, on free ports, and kill -9 them."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from shared.devstack import infra
from shared.devstack.processes import WEB_PORTS, WORKERS, Process, web, worker

TOKEN = "test-token"


@dataclass
class RunningPlatform:
    env: dict[str, str]
    log_dir: Path
    procs: dict[str, Process] = field(default_factory=dict)
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return self.procs[name].url

    def start(self, name: str, extra_env: dict[str, str] | None = None) -> None:
        proc = self.procs[name]
        env = {**self.env, "PORT": str(proc.port), **(extra_env or {})}
        log = (self.log_dir / f"{name}.log").open("ab")
        self.running[name] = subprocess.Popen(
            proc.argv,
            env=env,
            cwd=infra.ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, names: list[str] | None = None, timeout: float = 60) -> None:
        for name in names or list(self.running):
            url = self.url(name) + "/readyz"
            infra.wait_until(lambda u=url: _ok(u), timeout, f"{name} ready")

    def kill9(self, name: str) -> None:
        popen = self.running[name]
        if popen.poll() is None:
            os.killpg(popen.pid, signal.SIGKILL)
        popen.wait()

    def stop(self, name: str) -> None:
        """SIGTERM, as an orchestrator stops a process, and wait for it to finish."""
        popen = self.running[name]
        if popen.poll() is None:
            os.killpg(popen.pid, signal.SIGTERM)
        popen.wait(15)

    def log_tail(self, name: str, lines: int = 15) -> str:
        text = (self.log_dir / f"{name}.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def is_dead(self, name: str) -> bool:
        return self.running[name].poll() is not None

    def restart(self, name: str, extra_env: dict[str, str] | None = None) -> None:
        self.kill9(name) if not self.is_dead(name) else None
        self.restarts[name] = self.restarts.get(name, 0) + 1
        self.start(name, extra_env)

    def stop_all(self) -> None:
        for popen in self.running.values():
            if popen.poll() is None:
                os.killpg(popen.pid, signal.SIGTERM)
        for popen in self.running.values():
            try:
                popen.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(popen.pid, signal.SIGKILL)
                popen.wait()


def plan(
    env: dict[str, str],
    log_dir: Path,
    services: tuple[str, ...] = (
        "jobs",
        "invoicing",
        "payments",
        "notifications",
        "reporting",
        "gateway",
    ),
) -> RunningPlatform:
    platform = RunningPlatform(
        env={**env, "INTERNAL_API_TOKEN": TOKEN, "PYTHONPATH": str(infra.ROOT)}, log_dir=log_dir
    )
    for service in services:
        if service in WEB_PORTS:
            proc = web(service, infra.free_port())
            platform.procs[proc.name] = proc
    for name, (module, _port) in WORKERS.items():
        if name.split("-")[0] in services:
            platform.procs[name] = worker(name, module, infra.free_port())
    for service in ("jobs", "invoicing", "payments", "notifications", "reporting"):
        if f"{service}-web" in platform.procs:
            platform.env[f"{service.upper()}_URL"] = platform.url(f"{service}-web")
    if "payments-web" in platform.procs:  # pay links in texts and emails open the real page
        platform.env["PAY_BASE_URL"] = platform.url("payments-web")
    return platform


def _ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def wait_for(check, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
