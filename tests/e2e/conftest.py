from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from shared.devstack import infra
from shared.settings import Settings
from tests.conftest import env_for
from tests.support.platform import RunningPlatform, plan


@contextlib.contextmanager
def started(env: dict[str, str], log_dir: Path) -> Iterator[RunningPlatform]:
    running = plan(env, log_dir)
    if "notifications-web" in running.procs and os.environ.get("TWILIO_API_BASE"):
        hooks = running.url("notifications-web")
        key = infra.register_message_webhooks(os.environ["TWILIO_API_BASE"], hooks, Settings())
        running.env.update(
            {
                "NOTIFICATIONS_PUBLIC_URL": hooks,
                "SENDGRID_WEBHOOK_PUBLIC_KEY": key,
                "MESSAGE_RECONCILE_SECONDS": "2",
            }
        )
    for name in running.procs:
        running.start(name)
    try:
        running.wait_ready()
        if "payments-web" in running.procs and os.environ.get("STRIPE_API_BASE"):
            webhook = running.url("payments-web") + "/webhooks/stripe"
            infra.register_stripe_webhook(
                os.environ["STRIPE_API_BASE"],
                uuid.uuid4().hex,
                webhook,
                Settings().stripe_webhook_secret,
            )
        yield running
    finally:
        running.stop_all()


@pytest.fixture
def platform(service_env: dict[str, str], tmp_path: Path) -> Iterator[RunningPlatform]:
    """jobs and invoicing, every process of each, on this test's databases and broker."""
    with started(service_env, tmp_path) as running:
        yield running


@pytest.fixture(scope="module")
def module_platform(
    module_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningPlatform]:
    """One platform shared by a module's tests (for tests that only read and add)."""
    with started(env_for(module_settings), tmp_path_factory.mktemp("platform")) as running:
        yield running


CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()
