"""Settings in the staff web app on fakes (Flask's test client): only an owner reaches them; the
Automations form becomes notifications' policies and shows its refusals; the card limit is typed
in dollars and kept in cents; an owner adds users, changes roles and removes users of their own
shop only, never themselves, and a changed user's sessions end."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from services.gateway.domain.access import Role, StaffUser, new_user
from services.gateway.entrypoints.flask_app import build_app
from services.gateway.entrypoints.web import Deps
from services.gateway.service_layer.ports import (
    Change,
    Invoicing,
    Jobs,
    Notifications,
    Page,
    Passwords,
    Payments,
    Refused,
    Reporting,
    Work,
)
from tests.unit.fakes import FakeUsers
from tests.unit.test_gateway import csrf_of
from tests.unit.test_gateway import signed_in as sign_in_as

pytestmark = pytest.mark.unit
PASSWORD = "a long enough password"
LINK_REASON = "Value error, every reminder carries the pay link: add {link}"


class NotUsed(AssertionError):
    """A port method the settings pages never call."""


class FakePasswords(Passwords):
    def hash(self, password: str) -> str:
        return "hashed:" + password[::-1]

    def matches(self, password_hash: str, password: str) -> bool:
        return password_hash == self.hash(password)


class FakeInvoicing(Invoicing):
    """Only the settings: PUT replaces every field, as invoicing's does."""

    def __init__(self) -> None:
        self.saved: dict[str, Any] = {
            "shop_id": "shop-a",
            "name": "Northwind HVAC",
            "display_name": "Northwind HVAC",
            "number_prefix": "INV-{year}-",
            "card_max_cents": 500_000,
            "logo_url": "data:image/png;base64,iVBORw0KGgo=",
            "color": "#1f6feb",
            "time_zone": "America/Los_Angeles",
        }

    def settings(self, shop_id: str) -> dict[str, Any]:
        return dict(self.saved)

    def save_settings(self, shop_id: str, body: dict[str, Any], actor: str) -> dict[str, Any]:
        fields = ("name", "number_prefix", "card_max_cents", "logo_url", "color", "time_zone")
        assert sorted(body) == sorted(fields), body
        if body["time_zone"] == "Mars/Olympus":
            raise Refused("validation_failed", ["time_zone: Value error, not an IANA time zone"])
        self.saved.update(body)
        return self.saved

    def invoices(self, shop_id: str, status: str | None, after: str | None = None) -> Page:
        raise NotUsed

    def invoice(self, shop_id: str, invoice_id: str) -> dict[str, Any]:
        raise NotUsed

    def send(self, shop_id: str, invoice_id: str, actor: str) -> dict[str, Any]:
        raise NotUsed

    def void(self, shop_id: str, invoice_id: str, actor: str, reason: str) -> dict[str, Any]:
        raise NotUsed

    def replace_pay_link(
        self, shop_id: str, invoice_id: str, actor: str, reason: str, link_number: int | None
    ) -> dict[str, Any]:
        raise NotUsed

    def timeline(self, shop_id: str, invoice_id: str) -> list[dict[str, Any]]:
        raise NotUsed

    def pdf(self, shop_id: str, invoice_id: str) -> bytes:
        raise NotUsed

    def search(self, shop_id: str, text: str, after: str | None = None) -> Page:
        raise NotUsed

    def edit(
        self, shop_id: str, invoice_id: str, change: Change, body: dict[str, Any], actor: str
    ) -> dict[str, Any]:
        raise NotUsed

    def create(self, shop_id: str, body: dict[str, Any], actor: str) -> dict[str, Any]:
        raise NotUsed

    def from_estimate(self, shop_id: str, estimate_id: str, actor: str) -> dict[str, Any]:
        raise NotUsed


def policy(*messages: str) -> dict[str, Any]:
    steps = [{"days": 7 * n, "channels": ["email"], "message": m} for n, m in enumerate(messages)]
    return {"enabled": True, "steps": steps}


class FakeNotifications(Notifications):
    def __init__(self) -> None:
        self.saved: dict[str, Any] = {
            "policies": {
                "residential": policy("Due today {link}", "A week late {link}"),
                "commercial": policy("Commercial due {link}"),
                "property_manager": policy("PM due {link}"),
            },
            "quiet_hours_start": "20:00",
            "quiet_hours_end": "08:00",
        }

    def automations(self, shop_id: str) -> dict[str, Any]:
        return self.saved

    def save_automations(self, shop_id: str, body: dict[str, Any], actor: str) -> dict[str, Any]:
        for kind, found in body["policies"].items():
            for n, step in enumerate(found["steps"]):
                if "{link}" not in step["message"]:
                    where = f"policies.{kind}.steps.{n}.message"
                    raise Refused("validation_failed", [f"{where}: {LINK_REASON}"])
        self.saved = body
        return body

    def nudge(self, shop_id: str, invoice_id: str, channels: list[str], actor: str) -> None:
        raise NotUsed


class FakeJobs(Jobs):
    def customers(self, shop_id: str, text: str | None, after: str | None = None) -> Page:
        raise NotUsed

    def customer(self, shop_id: str, customer_id: str) -> dict[str, Any]:
        raise NotUsed

    def add_customer(self, shop_id: str, body: dict[str, Any]) -> dict[str, Any]:
        raise NotUsed

    def locations(self, shop_id: str, customer_id: str) -> list[dict[str, Any]]:
        raise NotUsed

    def add_location(self, shop_id: str, customer_id: str, body: dict[str, Any]) -> None:
        raise NotUsed

    def jobs(
        self,
        shop_id: str,
        status: str | None,
        technician: str | None,
        customer_id: str | None,
        after: str | None = None,
    ) -> Page:
        raise NotUsed

    def job(self, shop_id: str, job_id: str) -> dict[str, Any]:
        raise NotUsed

    def add_job(self, shop_id: str, body: dict[str, Any]) -> dict[str, Any]:
        raise NotUsed

    def work(self, shop_id: str, job_id: str, step: Work, body: dict[str, Any]) -> None:
        raise NotUsed

    def approved_estimates(self, shop_id: str, after: str | None = None) -> Page:
        raise NotUsed


class FakePayments(Payments):
    def payments(self, shop_id: str, invoice_id: str) -> list[dict[str, Any]]:
        raise NotUsed

    def refund(
        self, shop_id: str, charge_id: str, cents: int, reason: str, actor: str, key: str
    ) -> dict[str, Any]:
        raise NotUsed


class FakeReporting(Reporting):
    def aging(self, shop_id: str, as_of: str | None, by_customer: bool) -> dict[str, Any]:
        raise NotUsed

    def aging_csv(self, shop_id: str, as_of: str | None) -> tuple[str, bytes]:
        raise NotUsed

    def aging_invoices(
        self, shop_id: str, as_of: str | None, bucket: int, customer_id: str | None
    ) -> dict[str, Any]:
        raise NotUsed


class Shop:
    """The fakes one test works with."""

    def __init__(self) -> None:
        self.users, self.invoicing, self.notifications = (
            FakeUsers(),
            FakeInvoicing(),
            FakeNotifications(),
        )
        staff: list[tuple[str, str, Role]] = [
            ("owner@a.example", "shop-a", "owner"),
            ("office@a.example", "shop-a", "office"),
            ("tech@a.example", "shop-a", "technician"),
            ("office@b.example", "shop-b", "office"),
        ]
        for email, shop, role in staff:
            user = new_user(shop, email, email.split("@")[0].title(), role)
            self.users.add(user, FakePasswords().hash(PASSWORD))

    def user(self, email: str) -> StaffUser:
        return self.users.rows[email][0]


@pytest.fixture
def shop() -> Shop:
    return Shop()


@pytest.fixture
def app(shop: Shop) -> Flask:
    def live(shop_id: str, after: int | None) -> Iterator[str]:
        yield ""

    deps = Deps(
        lambda: shop.users,
        FakePasswords,
        lambda: shop.invoicing,
        lambda: shop.notifications,
        FakeReporting,
        FakeJobs,
        FakePayments,
        lambda: True,
        live,
        "http://127.0.0.1:8025/inbox",
    )
    return build_app(deps, "test-secret-key-for-the-gateway")


def signed_in(app: Flask, email: str, password: str = PASSWORD) -> FlaskClient:
    return sign_in_as(app, email, password)


def settings_routes(app: Flask) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/settings"):
            path = re.sub(r"<[^>]+>", "x", rule.rule)
            found += [(m, path) for m in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})]
    return found


def post_role(client: FlaskClient, user_id: str, token: str, role: str) -> TestResponse:
    return client.post(f"/settings/users/{user_id}/role", data={"csrf_token": token, "role": role})


def labelled(html: str) -> bool:
    """Every visible field has a <label for> naming it."""
    fields = re.findall(r'<(?:input|select|textarea) id="([^"]+)"', html)
    return all(f'<label for="{f}"' in html for f in fields)


def test_the_owner_reaches_each_settings_page(app: Flask) -> None:
    owner = signed_in(app, "owner@a.example")
    index = owner.get("/settings").get_data(as_text=True)
    for path in ("/settings/automations", "/settings/payments", "/settings/users"):
        assert f'href="{path}"' in index
    assert 'href="http://127.0.0.1:8025/inbox"' in index
    for path, title in [
        ("/settings", "Settings"),
        ("/settings/automations", "Automations"),
        ("/settings/payments", "Payments and branding"),
        ("/settings/users", "Users and roles"),
    ]:
        page = owner.get(path)
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and f"<title>{title} · FieldPay</title>" in html
        assert labelled(html) and 'style="' not in html and "<script>" not in html


@pytest.mark.parametrize("email", ["office@a.example", "tech@a.example"])
def test_office_and_technicians_get_403_on_every_settings_route(app: Flask, email: str) -> None:
    client = signed_in(app, email)
    token = csrf_of(client, "/settings")  # the refusal page still has the sign-out form
    routes = settings_routes(app)
    assert len(routes) >= 8
    for method, path in routes:
        answer = client.open(path, method=method, data={"csrf_token": token, "role": "owner"})
        assert answer.status_code == 403, (method, path)


def test_a_settings_form_without_its_token_is_refused(app: Flask, shop: Shop) -> None:
    owner = signed_in(app, "owner@a.example")
    office = shop.user("office@a.example")
    for path in (
        "/settings/automations",
        "/settings/payments",
        "/settings/users",
        f"/settings/users/{office.user_id}/role",
        f"/settings/users/{office.user_id}/remove",
    ):
        assert owner.post(path, data={"role": "owner"}).status_code == 400, path
    assert shop.user("office@a.example") == office


def automations_form(token: str) -> dict[str, Any]:
    """The page's form as the owner leaves it: residential's first step reworded, its second
    emptied (removed), a step added in its empty row; commercial switched off."""
    return {
        "csrf_token": token,
        "quiet_hours_start": "21:00",
        "quiet_hours_end": "07:30",
        "residential-enabled": "on",
        "residential-0-days": "0",
        "residential-0-channel": ["sms", "email"],
        "residential-0-message": "Due today, thanks! {link}",
        "residential-1-days": "7",
        "residential-1-channel": "email",
        "residential-1-message": "",
        "residential-2-days": "-3",
        "residential-2-channel": "sms",
        "residential-2-message": "Coming up {link}",
        "commercial-0-days": "0",
        "commercial-0-channel": "email",
        "commercial-0-message": "Commercial due {link}",
        "property_manager-enabled": "on",
        "property_manager-0-days": "0",
        "property_manager-0-channel": "email",
        "property_manager-0-message": "PM due {link}",
    }


def test_automations_round_trip_through_the_form(app: Flask, shop: Shop) -> None:
    owner = signed_in(app, "owner@a.example")
    page = owner.get("/settings/automations").get_data(as_text=True)
    assert "A week late {link}" in page and 'value="20:00"' in page
    assert 'id="residential-2-message"' in page  # the empty row to add a step
    token = csrf_of(owner, "/settings/automations")
    saved = owner.post("/settings/automations", data=automations_form(token))
    assert saved.status_code in (302, 303)
    assert saved.headers["Location"] == "/settings/automations"
    assert shop.notifications.saved == {
        "policies": {
            "residential": {
                "enabled": True,
                "steps": [
                    {
                        "days": 0,
                        "channels": ["sms", "email"],
                        "message": "Due today, thanks! {link}",
                    },
                    {"days": -3, "channels": ["sms"], "message": "Coming up {link}"},
                ],
            },
            "commercial": {
                "enabled": False,
                "steps": [policy("Commercial due {link}")["steps"][0]],
            },
            "property_manager": policy("PM due {link}"),
        },
        "quiet_hours_start": "21:00",
        "quiet_hours_end": "07:30",
    }
    after = owner.get("/settings/automations").get_data(as_text=True)
    assert "Automations saved" in after and "A week late" not in after
    assert 'id="commercial-enabled" name="commercial-enabled">' in after  # not checked


def test_a_refused_template_shows_why_and_keeps_what_was_typed(app: Flask, shop: Shop) -> None:
    owner = signed_in(app, "owner@a.example")
    before = shop.notifications.saved
    form = automations_form(csrf_of(owner, "/settings/automations"))
    form["residential-2-message"] = "Coming up, no link"
    refused = owner.post("/settings/automations", data=form)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'class="error" role="alert"' in html
    assert "Homeowners (residential), step 2, message: every reminder carries the pay link" in html
    assert "Coming up, no link</textarea>" in html and 'value="21:00"' in html
    assert shop.notifications.saved is before
    form["residential-2-message"], form["residential-2-days"] = "Coming up {link}", "soon"
    unreadable = owner.post("/settings/automations", data=form)
    assert unreadable.status_code == 422 and "a whole number of days" in unreadable.text
    assert 'value="soon"' in unreadable.text and shop.notifications.saved is before


def test_the_card_limit_is_typed_in_dollars_and_kept_in_cents(app: Flask, shop: Shop) -> None:
    owner = signed_in(app, "owner@a.example")
    page = owner.get("/settings/payments").get_data(as_text=True)
    assert 'value="5000.00"' in page and 'type="color"' in page and "uploaded logo" in page
    token = csrf_of(owner, "/settings/payments")
    form = {
        "csrf_token": token,
        "name": "Northwind Heating",
        "number_prefix": "NW-{year}-",
        "card_max": "$1,250.5",
        "logo_url": "",
        "color": "#aa3300",
        "time_zone": "America/Chicago",
    }
    saved = owner.post("/settings/payments", data=form)
    assert saved.status_code in (302, 303) and saved.headers["Location"] == "/settings/payments"
    assert shop.invoicing.saved["card_max_cents"] == 125_050
    assert shop.invoicing.saved["logo_url"].startswith("data:image/png")  # kept, not sent back
    assert shop.invoicing.saved["name"] == "Northwind Heating"
    assert 'value="1250.50"' in owner.get("/settings/payments").get_data(as_text=True)
    refused = owner.post("/settings/payments", data={**form, "time_zone": "Mars/Olympus"})
    assert refused.status_code == 422 and "not an IANA time zone" in refused.text
    assert 'value="Mars/Olympus"' in refused.text
    bad = owner.post("/settings/payments", data={**form, "card_max": "lots"})
    assert bad.status_code == 422 and "card_max: an amount in dollars" in bad.text
    removed = owner.post("/settings/payments", data={**form, "remove_logo": "on"})
    assert removed.status_code in (302, 303) and shop.invoicing.saved["logo_url"] is None


def test_the_owner_adds_a_user_who_can_then_sign_in(app: Flask, shop: Shop) -> None:
    owner = signed_in(app, "owner@a.example")
    token = csrf_of(owner, "/settings/users")
    form = {
        "csrf_token": token,
        "name": "Ana Silva",
        "email": " Ana@A.example ",
        "role": "office",
        "password": "short",
    }
    weak = owner.post("/settings/users", data=form)
    assert weak.status_code == 422 and "password: must be at least 12 characters" in weak.text
    assert 'value="Ana Silva"' in weak.text and "ana@a.example" not in shop.users.rows
    added = owner.post("/settings/users", data={**form, "password": PASSWORD})
    assert added.status_code in (302, 303) and added.headers["Location"] == "/settings/users"
    assert shop.user("ana@a.example").role == "office"
    listed = owner.get("/settings/users").get_data(as_text=True)
    assert "Ana Silva added as office" in listed and "ana@a.example" in listed
    assert "office@b.example" not in listed
    assert signed_in(app, "ana@a.example").get("/settings").status_code == 403
    again = owner.post("/settings/users", data={**form, "password": PASSWORD})
    assert again.status_code == 422 and "already a user" in again.text


def test_an_email_of_another_shop_is_not_taken_over(app: Flask, shop: Shop) -> None:
    owner = signed_in(app, "owner@a.example")
    form = {
        "csrf_token": csrf_of(owner, "/settings/users"),
        "name": "Borrowed",
        "email": "office@b.example",
        "role": "owner",
        "password": PASSWORD,
    }
    taken = owner.post("/settings/users", data=form)
    assert taken.status_code == 422 and "already in use" in taken.text
    assert shop.user("office@b.example").shop_id == "shop-b"
    assert shop.user("office@b.example").role == "office"


def test_a_new_role_or_a_removal_ends_the_users_sessions(app: Flask, shop: Shop) -> None:
    owner = signed_in(app, "owner@a.example")
    office = signed_in(app, "office@a.example")
    assert office.get("/settings").status_code == 403
    user = shop.user("office@a.example")
    token = csrf_of(owner, "/settings/users")
    changed = post_role(owner, user.user_id, token, "technician")
    assert changed.status_code in (302, 303)
    assert shop.user("office@a.example").role == "technician"
    assert office.get("/settings").headers["Location"].startswith("/signin")
    assert "Office is now technician" in owner.get("/settings/users").text
    odd = post_role(owner, user.user_id, token, "boss")
    assert odd.status_code == 422 and "choose owner, office or technician" in odd.text
    tech = signed_in(app, "tech@a.example")
    gone = shop.user("tech@a.example")
    removed = owner.post(f"/settings/users/{gone.user_id}/remove", data={"csrf_token": token})
    assert removed.status_code in (302, 303) and "tech@a.example" not in shop.users.rows
    assert tech.get("/settings").headers["Location"].startswith("/signin")


def test_an_owner_keeps_their_own_role_and_place(app: Flask, shop: Shop) -> None:
    owner = signed_in(app, "owner@a.example")
    me = shop.user("owner@a.example")
    token = csrf_of(owner, "/settings/users")
    demoted = post_role(owner, me.user_id, token, "office")
    assert demoted.status_code == 422 and "the shop must keep an owner" in demoted.text
    left = owner.post(f"/settings/users/{me.user_id}/remove", data={"csrf_token": token})
    assert left.status_code == 422 and "the shop must keep an owner" in left.text
    assert shop.user("owner@a.example") == me
    assert owner.get("/settings/users").status_code == 200  # still signed in


def test_another_shops_user_is_not_found(app: Flask, shop: Shop) -> None:
    owner = signed_in(app, "owner@a.example")
    other = shop.user("office@b.example")
    token = csrf_of(owner, "/settings/users")
    role = post_role(owner, other.user_id, token, "technician")
    assert role.status_code == 404
    remove = owner.post(f"/settings/users/{other.user_id}/remove", data={"csrf_token": token})
    assert remove.status_code == 404
    assert shop.user("office@b.example") == other
