"""Settings in the staff web app on the running platform, over real HTTP: the owner signs in,
rewords a reminder and lowers the card limit through the pages' own forms, and notifications and
invoicing answer with the new values; the owner adds an office user who signs in, then makes
them a technician, which ends the session they had."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from services.gateway.adapters.argon import Argon2Passwords
from services.gateway.adapters.postgres import PooledUsers
from services.gateway.service_layer import auth
from shared.db import make_pool
from tests.e2e.test_gateway import csrf, sign_in
from tests.support.api import Api
from tests.support.platform import RunningPlatform

pytestmark = pytest.mark.e2e
SHOP = "shop-gw-settings"
PASSWORD = "a long enough password"
OWNER = "owner@gw-settings.example"


def add_owner(module_settings: Any) -> None:
    pool = make_pool(module_settings.database_url_for("gateway"), min_size=1, max_size=1)
    try:
        users, passwords = PooledUsers(pool), Argon2Passwords()
        auth.add_user(SHOP, OWNER, "Olive Owner", "owner", PASSWORD, users, passwords)
    finally:
        pool.close()


class FormFields(HTMLParser):
    """What a browser sends for the first form posting to ``action``: its inputs (ticked
    checkboxes only), textareas and the selected options."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action, self.inside, self.done = action, False, False
        self.fields: list[tuple[str, str]] = []
        self.textarea: str | None = None
        self.select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "form" and not self.done:
            self.inside = found.get("action") == self.action
        if not self.inside:
            return
        if tag == "input" and (found.get("type") != "checkbox" or "checked" in found):
            self.fields.append((found["name"], found.get("value", "on")))
        elif tag == "textarea":
            self.textarea = found["name"]
            self.fields.append((found["name"], ""))
        elif tag == "select":
            self.select = found["name"]
        elif tag == "option" and self.select and "selected" in found:
            self.fields.append((self.select, found["value"]))

    def handle_data(self, data: str) -> None:
        if self.inside and self.textarea is not None:
            name, typed = self.fields[-1]
            self.fields[-1] = (name, typed + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self.textarea = None
        elif tag == "select":
            self.select = None
        elif tag == "form" and self.inside:
            self.inside, self.done = False, True


def form_of(html: str, action: str) -> dict[str, list[str]]:
    reader = FormFields(action)
    reader.feed(html)
    assert reader.fields, f"no form posting to {action}"
    fields: dict[str, list[str]] = {}
    for name, value in reader.fields:
        fields.setdefault(name, []).append(value)
    return fields


def saved(visitor: requests.Session, url: str, form: dict[str, Any]) -> str:
    """Post the form; the page it sends back to, with its message."""
    answer = visitor.post(url, data=form, allow_redirects=False, timeout=15)
    assert answer.status_code in (302, 303), answer.text
    return visitor.get(urljoin(url, answer.headers["Location"]), timeout=10).text


def test_the_owner_changes_reminders_and_the_card_limit(
    module_platform: RunningPlatform, module_settings: Any
) -> None:
    add_owner(module_settings)
    base = module_platform.url("gateway-web")
    owner = sign_in(base, OWNER)
    assert "/settings/payments" in owner.get(base + "/settings", timeout=10).text

    page = owner.get(base + "/settings/automations", timeout=10).text
    form = form_of(page, "/settings/automations")
    assert form["quiet_hours_start"] == ["20:00"]
    form["residential-0-message"] = ["{shop}: a friendly heads-up about {invoice}. Pay: {link}"]
    broken = owner.post(
        base + "/settings/automations",
        data={**form, "residential-0-message": ["no pay link here"]},
        timeout=15,
    )
    assert broken.status_code == 422 and "carries the pay link" in broken.text  # the service's
    assert "no pay link here</textarea>" in broken.text
    after = saved(owner, base + "/settings/automations", form)
    assert "Automations saved" in after and "a friendly heads-up" in after
    notifications = Api(module_platform.url("notifications-web"), SHOP)
    residential = notifications.get("/settings/automations").json()["policies"]["residential"]
    assert residential["steps"][0]["message"].startswith("{shop}: a friendly heads-up")
    assert len(residential["steps"]) == 6  # the defaults' six steps, none lost on the way

    page = owner.get(base + "/settings/payments", timeout=10).text
    form = form_of(page, "/settings/payments")
    assert form["card_max"] == ["5000.00"]
    after = saved(owner, base + "/settings/payments", {**form, "card_max": ["1,250.50"]})
    assert 'value="1250.50"' in after
    invoicing = Api(module_platform.url("invoicing-web"), SHOP).get("/settings").json()
    assert invoicing["card_max_cents"] == 125_050
    assert invoicing["color"] == form["color"][0] == "#1f6feb"
    assert invoicing["time_zone"] == "America/Los_Angeles"


def test_a_new_role_ends_the_users_session(
    module_platform: RunningPlatform, module_settings: Any
) -> None:
    add_owner(module_settings)  # the same owner again (their sessions, if any, end)
    base = module_platform.url("gateway-web")
    owner = sign_in(base, OWNER)
    page = owner.get(base + "/settings/users", timeout=10).text
    new = {
        "csrf_token": csrf(page),
        "name": "Ana Office",
        "email": "ana@gw-settings.example",
        "role": "office",
        "password": PASSWORD,
    }
    assert "Ana Office added as office" in saved(owner, base + "/settings/users", new)
    ana = sign_in(base, "ana@gw-settings.example")
    assert ana.get(base + "/invoices", allow_redirects=False, timeout=10).status_code == 200

    page = owner.get(base + "/settings/users", timeout=10).text
    row = re.search(r'ana@gw-settings\.example.*?action="(/settings/users/[^"]+/role)"', page, re.S)
    assert row, page
    form = form_of(page, row.group(1))
    assert form["role"] == ["office"]
    after = saved(owner, base + row.group(1), {**form, "role": ["technician"]})
    assert "Ana Office is now technician" in after
    ended = ana.get(base + "/invoices", allow_redirects=False, timeout=10)
    assert ended.status_code == 302 and ended.headers["Location"].startswith("/signin")
    again = sign_in(base, "ana@gw-settings.example")
    assert again.get(base + "/invoices", allow_redirects=False, timeout=10).status_code == 403
