"""The staff web app on fakes (Flask's test client): every route but sign-in, health and static
needs a session; roles decide what a user reaches; every form needs its CSRF token; a user sees
only their shop; a wrong email and a wrong password get the same answer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from services.gateway.adapters.argon import Argon2Passwords
from services.gateway.domain.access import Role, StaffUser
from services.gateway.entrypoints.flask_app import PUBLIC, Deps, build_app
from services.gateway.service_layer import auth
from services.gateway.service_layer.ports import (
    Invoicing,
    NotFound,
    Notifications,
    Refused,
    Reporting,
    Users,
)

pytestmark = pytest.mark.unit
PASSWORD = "correct horse battery"


class FakeUsers(Users):
    def __init__(self) -> None:
        self.rows: dict[str, tuple[StaffUser, str]] = {}

    def by_email(self, email: str) -> tuple[StaffUser, str] | None:
        return self.rows.get(email)

    def add(self, user: StaffUser, password_hash: str) -> None:
        self.rows[user.email] = (user, password_hash)


def draft(invoice_id: str, shop: str) -> dict[str, Any]:
    return {
        "invoice_id": invoice_id,
        "shop_id": shop,
        "invoice_number": None,
        "status": "draft",
        "customer": {"name": f"Customer of {shop}"},
        "totals": {"total_cents": 44_819},
        "balance_cents": 44_819,
        "lines": [],
        "review": {"problems": [{"level": "warning", "message": "bill-to and service differ"}]},
    }


class FakeInvoicing(Invoicing):
    def __init__(self) -> None:
        self.by_shop = {"shop-a": {"inv-a": draft("inv-a", "shop-a")}, "shop-b": {}}
        self.sent: list[tuple[str, str, str]] = []
        self.refuse = False
        self.history: list[dict[str, Any]] = [
            {
                "at": "2026-11-25T09:00:00",
                "who": "FieldPay",
                "what": "drafted from the closed job",
                "note": None,
            }
        ]

    def invoices(self, shop_id: str, status: str | None) -> list[dict[str, Any]]:
        """Summaries, as invoicing's list gives them."""
        return [
            {
                "invoice_id": i["invoice_id"],
                "status": i["status"],
                "invoice_number": i["invoice_number"],
                "customer_name": i["customer"]["name"],
                "total_cents": i["totals"]["total_cents"],
            }
            for i in self.by_shop.get(shop_id, {}).values()
            if i["status"] == status
        ]

    def invoice(self, shop_id: str, invoice_id: str) -> dict[str, Any]:
        found = self.by_shop.get(shop_id, {}).get(invoice_id)
        if found is None:
            raise NotFound(invoice_id)
        return found

    def void(self, shop_id: str, invoice_id: str, actor: str, reason: str) -> dict[str, Any]:
        found = self.invoice(shop_id, invoice_id)
        found["status"] = "void"
        self.history.append(
            {"at": "2026-11-25T10:00:00", "who": actor, "what": f"voided: {reason}", "note": None}
        )
        return found

    def timeline(self, shop_id: str, invoice_id: str) -> list[dict[str, Any]]:
        self.invoice(shop_id, invoice_id)
        return self.history

    def pdf(self, shop_id: str, invoice_id: str) -> bytes:
        self.invoice(shop_id, invoice_id)
        return b"%PDF-1.4 fake"

    def send(self, shop_id: str, invoice_id: str, actor: str) -> dict[str, Any]:
        found = self.invoice(shop_id, invoice_id)
        if self.refuse:
            raise Refused("invoice cannot be sent", ["customer.email: the customer has no contact"])
        self.sent.append((shop_id, invoice_id, actor))
        found.update(status="sent", invoice_number="INV-2026-000001")
        return found


class FakeNotifications(Notifications):
    def __init__(self) -> None:
        self.nudged: list[tuple[str, str, list[str], str]] = []

    def nudge(self, shop_id: str, invoice_id: str, channels: list[str], actor: str) -> None:
        if invoice_id == "not-yet":
            raise NotFound(invoice_id)
        if self.nudged:
            raise Refused(
                "a message went out less than an hour ago; nudge again after 11:02 UTC", []
            )
        self.nudged.append((shop_id, invoice_id, channels, actor))


class FakeReporting(Reporting):
    def aging(self, shop_id: str, as_of: str | None, by_customer: bool) -> dict[str, Any]:
        if as_of and as_of > "2026-11-25":
            raise Refused("invalid", ["as_of: must be today (2026-11-25) or earlier"])
        buckets = [
            {"label": label, "cents": cents, "count": 1 if cents else 0}
            for label, cents in zip(
                ["Current", "1–30", "31–60", "61–90", "91+"], [10_000, 0, 5_000, 0, 0], strict=True
            )
        ]
        line = {"buckets": buckets, "total_cents": 15_000, "count": 2}
        return {
            "as_of": as_of or "2026-11-25",
            "total": line,
            "customers": [{**line, "customer_id": "c1", "name": f"Customer of {shop_id}"}],
        }

    def aging_csv(self, shop_id: str, as_of: str | None) -> tuple[str, bytes]:
        return "ar-aging-2026-11-25.csv", f"Customer,Total\nCustomer of {shop_id},150.00\n".encode()


@pytest.fixture(scope="module")
def users() -> FakeUsers:
    store, passwords = FakeUsers(), Argon2Passwords()
    staff: list[tuple[str, str, Role]] = [
        ("owner@a.example", "shop-a", "owner"),
        ("office@a.example", "shop-a", "office"),
        ("tech@a.example", "shop-a", "technician"),
        ("office@b.example", "shop-b", "office"),
    ]
    for email, shop, role in staff:
        auth.add_user(shop, email, email.split("@")[0].title(), role, PASSWORD, store, passwords)
    return store


@pytest.fixture
def invoicing() -> FakeInvoicing:
    return FakeInvoicing()


@pytest.fixture
def app(users: FakeUsers, invoicing: FakeInvoicing) -> Flask:
    def live(shop_id: str, after: int | None) -> Iterator[str]:
        yield f'id: {(after or 0) + 1}\nevent: invoice\ndata: {{"shop": "{shop_id}"}}\n\n'

    notifications, reporting = FakeNotifications(), FakeReporting()
    deps = Deps(
        lambda: users,
        Argon2Passwords,
        lambda: invoicing,
        lambda: notifications,
        lambda: reporting,
        lambda: True,
        live,
    )
    return build_app(deps, "test-secret-key-for-the-gateway")


def csrf_of(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def signed_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    token = csrf_of(client, "/signin")
    answer = client.post(
        "/signin", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


def test_every_route_but_sign_in_health_and_static_needs_a_session(app: Flask) -> None:
    client = app.test_client()
    walked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        path = re.sub(r"<[^>]+>", "x", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            answer = client.open(path, method=method)
            if method == "GET":
                assert answer.status_code == 302, (method, path)
                assert answer.headers["Location"].startswith("/signin?next=")
            else:
                assert answer.status_code == 401, (method, path)
            walked += 1
    assert walked >= 6
    assert client.get("/healthz").status_code == 200
    assert client.get("/static/vendor/htmx-2.0.11.min.js").status_code == 200


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(app: Flask) -> None:
    client = app.test_client()
    token = csrf_of(client, "/signin")
    wrong = client.post(
        "/signin", data={"email": "office@a.example", "password": "nope", "csrf_token": token}
    )
    unknown = client.post(
        "/signin", data={"email": "who@a.example", "password": PASSWORD, "csrf_token": token}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert "do not match" in wrong.get_data(as_text=True)

    def page(answer: Any) -> str:  # the same page but for its fresh CSRF token
        return re.sub(r'value="[^"]+"', "", answer.get_data(as_text=True))

    assert page(wrong) == page(unknown)
    no_token = client.post("/signin", data={"email": "office@a.example", "password": PASSWORD})
    assert no_token.status_code == 400 and "expired" in no_token.get_data(as_text=True)


def test_sign_in_goes_back_where_asked_but_never_off_site(app: Flask) -> None:
    client = app.test_client()
    token = csrf_of(client, "/signin")
    form = {"email": "office@a.example", "password": PASSWORD, "csrf_token": token}
    back = client.post("/signin?next=/invoices/inv-a", data=form)
    assert back.headers["Location"] == "/invoices/inv-a"
    for target in (
        "//evil.example/x",
        "https://evil.example",
        "/\\evil.example",
        "/%09/evil.example",
        "/%0a/evil.example",
    ):
        client = app.test_client()
        form["csrf_token"] = csrf_of(client, "/signin")
        assert client.post(f"/signin?next={target}", data=form).headers["Location"] == "/invoices"


def test_roles_decide_what_a_user_reaches(app: Flask) -> None:
    tech = signed_in(app, "tech@a.example")
    assert tech.get("/invoices").status_code == 403
    assert tech.get("/invoices/inv-a").status_code == 403
    assert tech.get("/").headers["Location"] == "/my-jobs"
    assert tech.get("/my-jobs").status_code == 200
    office = signed_in(app, "office@a.example")
    page = office.get("/invoices")
    assert page.status_code == 200 and "$448.19" in page.get_data(as_text=True)
    assert "Customer of shop-a" in page.get_data(as_text=True)
    review = office.get("/invoices/inv-a").get_data(as_text=True)
    assert "warning: bill-to and service differ" in review


def test_another_shops_invoice_is_not_found_and_sending_needs_the_token(
    app: Flask, invoicing: FakeInvoicing
) -> None:
    other = signed_in(app, "office@b.example")
    assert other.get("/invoices/inv-a").status_code == 404
    assert "Customer of shop-a" not in other.get("/invoices").get_data(as_text=True)
    owner = signed_in(app, "owner@a.example")
    assert owner.post("/invoices/inv-a/send").status_code == 400  # no CSRF token
    invoicing.refuse = True
    token = csrf_of(owner, "/invoices/inv-a")
    refused = owner.post("/invoices/inv-a/send", data={"csrf_token": token})
    assert refused.status_code == 422 and "no contact" in refused.get_data(as_text=True)
    invoicing.refuse = False
    sent = owner.post("/invoices/inv-a/send", data={"csrf_token": token})
    assert sent.status_code == 302 and invoicing.sent == [("shop-a", "inv-a", "Owner")]
    assert "Sent INV-2026-000001" in owner.get("/invoices/inv-a").get_data(as_text=True)
    signed_out = owner.post("/signout", data={"csrf_token": token})
    assert signed_out.status_code == 302 and owner.get("/invoices").status_code == 302


def test_pages_have_titles_labels_and_safe_headers(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/signin")
    html = page.get_data(as_text=True)
    assert "<title>Sign in · FieldPay</title>" in html
    assert '<label for="email">' in html and '<label for="password">' in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    cookie = signed_in(app, "office@a.example").get_cookie("fieldpay_session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"


def test_passwords_are_hashed_with_argon2id_and_must_be_long(users: FakeUsers) -> None:
    _, stored = users.rows["office@a.example"]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    with pytest.raises(auth.WeakPassword):
        role: Role = "office"
        auth.add_user("shop-a", "x@a.example", "X", role, "short", users, Argon2Passwords())


def test_the_live_stream_is_the_signed_in_users_shop_only(app: Flask) -> None:
    assert app.test_client().get("/live").status_code == 302
    office = signed_in(app, "office@b.example")
    stream = office.get("/live", headers={"Last-Event-ID": "41"})
    assert stream.mimetype == "text/event-stream"
    assert stream.get_data(as_text=True) == 'id: 42\nevent: invoice\ndata: {"shop": "shop-b"}\n\n'
    page = office.get("/invoices").get_data(as_text=True)
    assert '<div id="live">' in page and "/static/live.js" in page


def test_the_invoice_page_nudges_voids_and_shows_its_timeline_and_pdf(
    app: Flask, invoicing: FakeInvoicing
) -> None:
    office = signed_in(app, "office@a.example")
    page = office.get("/invoices/inv-a").get_data(as_text=True)
    assert "drafted from the closed job" in page
    pdf = office.get("/invoices/inv-a/pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    token = csrf_of(office, "/invoices/inv-a")
    assert office.post("/invoices/inv-a/nudge", data={"csrf_token": token}).status_code == 422
    form = {"csrf_token": token, "channel": ["sms", "email"]}
    assert office.post("/invoices/inv-a/nudge", data=form).status_code == 302
    again = office.post("/invoices/inv-a/nudge", data=form)
    assert again.status_code == 422 and "less than an hour ago" in again.get_data(as_text=True)
    invoicing.by_shop["shop-a"]["not-yet"] = draft("not-yet", "shop-a")
    early = office.post("/invoices/not-yet/nudge", data=form)
    assert early.status_code == 409 and "still on their way" in early.get_data(as_text=True)
    voided = office.post("/invoices/inv-a/void", data={"csrf_token": token, "reason": "duplicate"})
    assert voided.status_code == 302 and invoicing.by_shop["shop-a"]["inv-a"]["status"] == "void"
    assert "voided: duplicate" in office.get("/invoices/inv-a").get_data(as_text=True)


def test_ar_aging_page_chart_as_of_and_csv(app: Flask) -> None:
    assert signed_in(app, "tech@a.example").get("/reports/ar-aging").status_code == 403
    office = signed_in(app, "office@a.example")
    page = office.get("/reports/ar-aging").get_data(as_text=True)
    assert "$150.00" in page and "Customer of shop-a" in page
    assert '<rect x="0.000" y="0" width="66.667"' in page  # Current: two thirds of the bar
    assert 'style="' not in page  # nothing the CSP would block
    future = office.get("/reports/ar-aging?as_of=2030-01-01").get_data(as_text=True)
    assert "must be today" in future
    sheet = office.get("/reports/ar-aging.csv")
    assert sheet.mimetype == "text/csv" and b"Customer of shop-a" in sheet.data
    assert 'filename="ar-aging-2026-11-25.csv"' in sheet.headers["Content-Disposition"]
