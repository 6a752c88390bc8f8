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
from services.gateway.domain.access import Role
from services.gateway.entrypoints.flask_app import PUBLIC, build_app, while_signed_in
from services.gateway.entrypoints.web import Deps
from services.gateway.service_layer import auth
from services.gateway.service_layer.ports import (
    Change,
    Invoicing,
    Jobs,
    NotFound,
    Notifications,
    Page,
    Payments,
    Refused,
    Reporting,
    ServiceDown,
    Work,
)
from tests.unit.fakes import FakeUsers

pytestmark = pytest.mark.unit
PASSWORD = "correct horse battery"


PLACE = {"line1": "1 Elm St", "city": "Fresno", "region": "CA", "postal_code": "93701"}


def draft(invoice_id: str, shop: str) -> dict[str, Any]:
    line = {
        "line_id": "line-1",
        "kind": "item",
        "description": "Capacitor",
        "quantity": "1",
        "unit_price_cents": 44_819,
        "taxable": False,
        "tax_rate_percent": "0",
        "subtotal_cents": 44_819,
        "tax_cents": 0,
        "total_cents": 44_819,
    }
    return {
        "invoice_id": invoice_id,
        "shop_id": shop,
        "invoice_number": None,
        "status": "draft",
        "customer": {"name": f"Customer of {shop}", "billing_address": PLACE},
        "service_address": PLACE,
        "totals": {"subtotal_cents": 44_819, "tax_cents": 0, "total_cents": 44_819},
        "balance_cents": 44_819,
        "paid_cents": 0,
        "allowed_payment_methods": ["card", "ach"],
        "due_date": None,
        "lines": [line],
        "review": {
            "problems": [{"level": "warning", "message": "bill-to and service differ"}],
            "addresses_differ": False,
            "card_max_cents": 500_000,
            "due_date": "2026-12-25",
            "due_date_overridden": False,
            "payment_terms": "net_30",
            "can_send": True,
        },
    }


class FakeInvoicing(Invoicing):
    def __init__(self) -> None:
        self.by_shop = {"shop-a": {"inv-a": draft("inv-a", "shop-a")}, "shop-b": {}}
        self.sent: list[tuple[str, str, str]] = []
        self.edits: list[tuple[str, str, str, dict[str, Any], str]] = []
        self.created: list[dict[str, Any]] = []
        self.replaced: list[tuple[str, str, str, str, int | None]] = []
        self.refuse = False
        self.history: list[dict[str, Any]] = [
            {
                "at": "2026-11-25T09:00:00",
                "who": "FieldPay",
                "what": "drafted from the closed job",
                "note": None,
            }
        ]

    def invoices(self, shop_id: str, status: str | None, after: str | None = None) -> Page:
        """Summaries, as invoicing's list gives them (one page: every list here is short)."""
        return {"items": self._summaries(shop_id, status), "next": None}

    def _summaries(self, shop_id: str, status: str | None) -> list[dict[str, Any]]:
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

    def replace_pay_link(
        self, shop_id: str, invoice_id: str, actor: str, reason: str, link_number: int | None
    ) -> dict[str, Any]:
        found = self.invoice(shop_id, invoice_id)
        if found["invoice_number"] is None or found["status"] == "void":
            raise Refused("cannot_replace", ["pay_link: the invoice has not been sent"])
        self.replaced.append((shop_id, invoice_id, actor, reason, link_number))
        found["pay_url"] = f"https://pay.example/p/new-link-{len(self.replaced)}"
        what = f"revoked the pay link and issued a new one: {reason}"
        self.history.append({"at": "2026-11-25T11:00:00", "who": actor, "what": what, "note": None})
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

    def search(self, shop_id: str, text: str, after: str | None = None) -> Page:
        found = [
            i
            for status in ("draft", "sent", "paid")
            for i in self._summaries(shop_id, status)
            if text.lower() in i["customer_name"].lower()
        ]
        return {"items": found, "next": "cursor-2" if after is None else None}

    def edit(
        self, shop_id: str, invoice_id: str, change: Change, body: dict[str, Any], actor: str
    ) -> dict[str, Any]:
        found = self.invoice(shop_id, invoice_id)
        if body.get("quantity") == "-1":
            raise Refused("validation_failed", ["quantity: must be greater than 0"])
        self.edits.append((shop_id, invoice_id, change, dict(body), actor))
        return found

    def create(self, shop_id: str, body: dict[str, Any], actor: str) -> dict[str, Any]:
        made = draft(f"new-{len(self.by_shop[shop_id])}", shop_id)
        self.by_shop[shop_id][made["invoice_id"]] = made
        self.created.append(body)
        return made

    def from_estimate(self, shop_id: str, estimate_id: str, actor: str) -> dict[str, Any]:
        if estimate_id != "est-1":
            raise Refused("validation_failed", ["estimate_id: no approved estimate with this id"])
        return self.create(shop_id, {"estimate_id": estimate_id}, actor)

    def settings(self, shop_id: str) -> dict[str, Any]:
        return {"name": shop_id, "card_max_cents": 500_000}

    def save_settings(self, shop_id: str, body: dict[str, Any], actor: str) -> dict[str, Any]:
        return body


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

    def automations(self, shop_id: str) -> dict[str, Any]:
        return {"policies": {}, "quiet_hours_start": "20:00", "quiet_hours_end": "08:00"}

    def save_automations(self, shop_id: str, body: dict[str, Any], actor: str) -> dict[str, Any]:
        return body


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
        if as_of == "2030-01-01":
            raise Refused("invalid", ["as_of: must be today (2026-11-25) or earlier"])
        if as_of == "2026-01-01":
            raise ServiceDown("reporting")
        return "ar-aging-2026-11-25.csv", f"Customer,Total\nCustomer of {shop_id},150.00\n".encode()

    def aging_invoices(
        self, shop_id: str, as_of: str | None, bucket: int, customer_id: str | None
    ) -> dict[str, Any]:
        owing = {
            "invoice_id": "inv-a",
            "number": "INV-2026-000007",
            "customer_name": f"Customer of {shop_id}",
            "due_date": "2026-10-01",
            "days_past_due": 55,
            "balance_cents": 5_000,
        }
        return {"items": [owing] if bucket == 2 else []}


def job(job_id: str, technician: str) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "customer_id": "c1",
        "service_address": PLACE,
        "line_items": [],
        "labor": [],
        "technicians": [technician],
        "notes": [],
        "status": "in_progress",
        "created_at": "2026-11-25T08:00:00",
    }


class FakeJobs(Jobs):
    def __init__(self) -> None:
        self.rows = {
            "shop-a": {"job-tech": job("job-tech", "Tech"), "job-other": job("job-other", "Al")},
            "shop-b": {},
        }
        self.work_done: list[tuple[str, str, str, dict[str, Any]]] = []

    def customers(self, shop_id: str, text: str | None, after: str | None = None) -> Page:
        return {
            "items": [self.customer(shop_id, "c1")] if shop_id == "shop-a" else [],
            "next": None,
        }

    def customer(self, shop_id: str, customer_id: str) -> dict[str, Any]:
        if shop_id != "shop-a" or customer_id != "c1":
            raise NotFound(customer_id)
        return {
            "customer_id": "c1",
            "name": "Dana Whitfield",
            "customer_type": "residential",
            "payment_terms": "net_30",
            "payment_terms_days": 30,
            "billing_address": PLACE,
            "email": "dana@example.com",
            "phone": None,
            "tax_exempt": False,
        }

    def add_customer(self, shop_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return {**self.customer("shop-a", "c1"), **body}

    def locations(self, shop_id: str, customer_id: str) -> list[dict[str, Any]]:
        return []

    def add_location(self, shop_id: str, customer_id: str, body: dict[str, Any]) -> None:
        self.customer(shop_id, customer_id)

    def jobs(
        self,
        shop_id: str,
        status: str | None,
        technician: str | None,
        customer_id: str | None,
        after: str | None = None,
    ) -> Page:
        found = [
            j
            for j in self.rows.get(shop_id, {}).values()
            if technician in (None, *j["technicians"]) and status in (None, j["status"])
        ]
        return {"items": found, "next": None}

    def job(self, shop_id: str, job_id: str) -> dict[str, Any]:
        found = self.rows.get(shop_id, {}).get(job_id)
        if found is None:
            raise NotFound(job_id)
        return found

    def add_job(self, shop_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.job(shop_id, "job-tech")

    def work(self, shop_id: str, job_id: str, step: Work, body: dict[str, Any]) -> None:
        self.job(shop_id, job_id)
        self.work_done.append((shop_id, job_id, step, body))

    def approved_estimates(self, shop_id: str, after: str | None = None) -> Page:
        estimate = {"estimate_id": "est-1", "customer_id": "c1", "decided_at": "2026-11-20"}
        return {"items": [estimate] if shop_id == "shop-a" else [], "next": None}


class FakePayments(Payments):
    def __init__(self) -> None:
        self.refunds: list[tuple[str, str, int, str, str, str]] = []

    def payments(self, shop_id: str, invoice_id: str) -> list[dict[str, Any]]:
        """inv-a was paid with ch-1, inv-b (same shop) with ch-2."""
        charge = {"inv-a": "ch-1", "inv-b": "ch-2"}.get(invoice_id)
        if shop_id != "shop-a" or charge is None:
            return []
        return [
            {
                "charge_id": charge,
                "method": "card",
                "amount_cents": 44_819,
                "status": "succeeded",
                "refunded_cents": 0,
            }
        ]

    def refund(
        self, shop_id: str, charge_id: str, cents: int, reason: str, actor: str, key: str
    ) -> dict[str, Any]:
        self.refunds.append((shop_id, charge_id, cents, reason, actor, key))
        return {}


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
def jobs() -> FakeJobs:
    return FakeJobs()


@pytest.fixture
def payments() -> FakePayments:
    return FakePayments()


@pytest.fixture
def app(
    users: FakeUsers, invoicing: FakeInvoicing, jobs: FakeJobs, payments: FakePayments
) -> Flask:
    def live(shop_id: str, after: int | None) -> Iterator[str]:
        yield f'id: {(after or 0) + 1}\nevent: invoice\ndata: {{"shop": "{shop_id}"}}\n\n'

    notifications, reporting = FakeNotifications(), FakeReporting()
    deps = Deps(
        lambda: users,
        Argon2Passwords,
        lambda: invoicing,
        lambda: notifications,
        lambda: reporting,
        lambda: jobs,
        lambda: payments,
        lambda: True,
        live,
        "http://127.0.0.1:8025/",
    )
    return build_app(deps, "test-secret-key-for-the-gateway")


def csrf_of(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def signed_in(app: Flask, email: str, password: str = PASSWORD) -> FlaskClient:
    client = app.test_client()
    token = csrf_of(client, "/signin")
    answer = client.post(
        "/signin", data={"email": email, "password": password, "csrf_token": token}
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
        assert client.post(f"/signin?next={target}", data=form).headers["Location"] == "/"


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
    assert '<div id="live" data-src="/invoices">' in page and "/static/live.js" in page


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


def test_review_edits_send_what_the_form_says_and_show_refusals(
    app: Flask, invoicing: FakeInvoicing
) -> None:
    office = signed_in(app, "office@a.example")
    page = office.get("/invoices/inv-a").get_data(as_text=True)
    assert 'data-invoice="inv-a"' in page and "Save line 1" in page
    token = csrf_of(office, "/invoices/inv-a")
    line = {
        "csrf_token": token,
        "description": "Capacitor 45/5 µF",
        "quantity": "2",
        "unit_price": "1,234.5",
        "tax_rate_percent": "8.25",
        "taxable": "on",
    }
    saved = office.post("/invoices/inv-a/lines/line-1", data=line)
    assert saved.status_code == 302 and saved.headers["Location"].endswith("#lines")
    assert invoicing.edits[-1][2:4] == (
        "change_line",
        {
            "description": "Capacitor 45/5 µF",
            "quantity": "2",
            "unit_price_cents": 123_450,
            "taxable": True,
            "tax_rate_percent": "8.25",
            "line_id": "line-1",
        },
    )
    refused = office.post("/invoices/inv-a/lines/line-1", data={**line, "quantity": "-1"})
    assert refused.status_code == 422 and "quantity: must be greater than 0" in refused.text
    bad_price = office.post("/invoices/inv-a/lines", data={**line, "unit_price": "12.345"})
    assert bad_price.status_code == 422 and "unit_price: an amount in dollars" in bad_price.text
    no_method = office.post("/invoices/inv-a/payment-methods", data={"csrf_token": token})
    assert no_method.status_code == 422 and "allow card, ACH or both" in no_method.text
    both = {"csrf_token": token, "method": ["card", "ach"]}
    assert office.post("/invoices/inv-a/payment-methods", data=both).status_code == 302
    terms = {"csrf_token": token, "due_date": "2026-12-01", "from_terms": "1"}
    assert office.post("/invoices/inv-a/due-date", data=terms).status_code == 302
    place = {"csrf_token": token, **PLACE}
    assert office.post("/invoices/inv-a/bill-to", data=place).status_code == 302
    note = {"csrf_token": token, "text": "Customer asked to pay Friday"}
    assert office.post("/invoices/inv-a/notes", data=note).status_code == 302
    changes = [(e[2], e[3]) for e in invoicing.edits[1:]]
    assert changes == [
        ("payment_methods", {"methods": ["card", "ach"]}),
        ("due_date", {"due_date": None}),
        ("bill_to", {"address": PLACE}),
        ("note", {"text": "Customer asked to pay Friday"}),
    ]
    assert all(e[4] == "Office" and e[0] == "shop-a" for e in invoicing.edits)


def test_only_the_owner_refunds_and_only_a_payment_of_that_invoice(
    app: Flask, invoicing: FakeInvoicing, payments: FakePayments
) -> None:
    invoicing.by_shop["shop-a"]["inv-a"].update(paid_cents=44_819, status="paid")
    tech = signed_in(app, "tech@a.example")
    tech_form = {"csrf_token": csrf_of(tech, "/my-jobs"), "charge_id": "ch-1", "amount": "1"}
    assert tech.post("/invoices/inv-a/refunds", data=tech_form).status_code == 403
    office = signed_in(app, "office@a.example")
    assert "Refund (owner)" not in office.get("/invoices/inv-a").text
    token = csrf_of(office, "/invoices/inv-a")
    form = {"csrf_token": token, "charge_id": "ch-1", "amount": "100", "key": "form-key-1"}
    assert office.post("/invoices/inv-a/refunds", data=form).status_code == 403
    owner = signed_in(app, "owner@a.example")
    page = owner.get("/invoices/inv-a").text
    assert "Refund (owner)" in page and "$448.19 refundable" in page
    form["csrf_token"] = csrf_of(owner, "/invoices/inv-a")
    assert owner.post("/invoices/inv-a/refunds", data=form).status_code == 302
    assert payments.refunds == [("shop-a", "ch-1", 10_000, "", "Owner", "form-key-1")]
    other_invoices = owner.post("/invoices/inv-a/refunds", data={**form, "charge_id": "ch-2"})
    assert other_invoices.status_code == 404 and len(payments.refunds) == 1


def test_a_technician_works_only_their_own_jobs_from_a_phone_page(
    app: Flask, jobs: FakeJobs
) -> None:
    tech = signed_in(app, "tech@a.example")
    mine = tech.get("/my-jobs").text
    assert "/jobs/job-tech" in mine and "/jobs/job-other" not in mine
    assert tech.get("/jobs/job-other").status_code == 404
    assert tech.get("/jobs").status_code == 403 and tech.get("/customers").status_code == 403
    token = csrf_of(tech, "/jobs/job-tech")
    item = {"csrf_token": token, "description": "Contactor", "quantity": "1", "unit_price": "89"}
    assert tech.post("/jobs/job-tech/items", data=item).status_code == 302
    labor = {"csrf_token": token, "hours": "1.5", "hourly_rate": "125.00"}
    assert tech.post("/jobs/job-tech/labor", data=labor).status_code == 302
    assert tech.post("/jobs/job-other/close", data={"csrf_token": token}).status_code == 404
    closed = tech.post("/jobs/job-tech/close", data={"csrf_token": token})
    assert closed.headers["Location"] == "/my-jobs"
    item_sent = {"description": "Contactor", "quantity": "1", "unit_price_cents": 8_900}
    labor_sent = {"technician": "Tech", "hours": "1.5", "hourly_rate_cents": 12_500}
    assert [(w[2], w[3]) for w in jobs.work_done] == [
        ("items", {**item_sent, "added_by": "Tech"}),
        ("labor", {**labor_sent, "added_by": "Tech"}),
        ("close", {}),
    ]
    office = signed_in(app, "office@a.example")
    assert office.get("/jobs/job-other").status_code == 200


def test_new_invoice_and_invoice_from_an_approved_estimate(
    app: Flask, invoicing: FakeInvoicing
) -> None:
    office = signed_in(app, "office@a.example")
    assert "Dana Whitfield" in office.get("/invoices/new").text
    token = csrf_of(office, "/invoices/new")
    line = {"description": "Diagnostic", "quantity": "1", "unit_price": "95"}
    made = office.post("/invoices/new", data={"csrf_token": token, "customer_id": "c1", **line})
    assert made.status_code == 302 and made.headers["Location"].startswith("/invoices/new-")
    body = invoicing.created[-1]
    assert body["customer"]["customer_id"] == "c1" and body["service_address"] == PLACE
    assert body["lines"][0]["unit_price_cents"] == 9_500
    stranger = office.post("/invoices/new", data={"csrf_token": token, "customer_id": "zz"})
    assert stranger.status_code == 422 and "choose one of the shop" in stranger.text
    assert "+ Invoice" in office.get("/estimates").text
    from_estimate = office.post("/estimates/est-1/invoice", data={"csrf_token": token})
    assert from_estimate.status_code == 302
    assert "/invoices/new-" in from_estimate.headers["Location"]


def test_aging_drills_down_to_a_buckets_invoices(app: Flask) -> None:
    office = signed_in(app, "office@a.example")
    report = office.get("/reports/ar-aging").text
    assert "/reports/ar-aging/invoices?bucket=2" in report
    drill = office.get("/reports/ar-aging/invoices?bucket=2&customer_id=c1")
    assert drill.status_code == 200 and "INV-2026-000007" in drill.text and "$50.00" in drill.text
    assert office.get("/reports/ar-aging/invoices?bucket=x").status_code == 404


def test_a_role_change_ends_the_users_sessions(app: Flask, users: FakeUsers) -> None:
    office = signed_in(app, "office@a.example")
    assert office.get("/invoices").status_code == 200
    user, _ = users.rows["office@a.example"]
    assert users.change_role("shop-a", user.user_id, "technician")
    assert office.get("/invoices").status_code == 302  # back to sign-in
    again = signed_in(app, "office@a.example")
    assert again.get("/invoices").status_code == 403  # now a technician
    users.change_role("shop-a", user.user_id, "office")


def test_a_refusal_or_a_service_down_is_a_page_never_a_500(app: Flask) -> None:
    office = signed_in(app, "office@a.example")
    refused = office.get("/reports/ar-aging.csv?as_of=2030-01-01")
    assert refused.status_code == 422 and "must be today" in refused.text
    down = office.get("/reports/ar-aging.csv?as_of=2026-01-01")
    assert down.status_code == 503 and "Try again shortly" in down.text
    assert "Traceback" not in down.text


def test_another_shops_user_reaches_none_of_this_shops_things(app: Flask, jobs: FakeJobs) -> None:
    other = signed_in(app, "office@b.example")
    token = csrf_of(other, "/invoices")
    for path in ("/invoices/inv-a", "/customers/c1", "/jobs/job-tech", "/jobs/job-other"):
        assert other.get(path).status_code == 404, path
    posts = {
        "/invoices/inv-a/lines/line-1": {"description": "x", "quantity": "1", "unit_price": "1"},
        "/invoices/inv-a/notes": {"text": "hello"},
        "/invoices/inv-a/bill-to": PLACE,
        "/customers/c1/locations": {"name": "Shed", **PLACE},
        "/customers/c1/jobs": {},
        "/jobs/job-tech/items": {"description": "x", "quantity": "1", "unit_price": "1"},
        "/jobs/job-tech/close": {},
    }
    for path, form in posts.items():
        assert other.post(path, data={"csrf_token": token, **form}).status_code == 404, path
    made = other.post("/invoices/new", data={"csrf_token": token, "customer_id": "c1"})
    assert made.status_code == 422  # shop-a's customer is not one of shop-b's
    assert jobs.work_done == []
    assert "Dana Whitfield" not in other.get("/customers").text


def test_a_live_stream_stops_when_the_session_ends() -> None:
    chunks = iter(["id: 1\nevent: invoice\n\n", ": still here\n\n", "id: 2\nevent: invoice\n\n"])
    signed_in_still = [True]
    heard = []
    for chunk in while_signed_in(chunks, lambda: signed_in_still[0]):
        heard.append(chunk)
        signed_in_still[0] = False  # the user is removed while the page is open
    assert heard == ["id: 1\nevent: invoice\n\n"]


def test_sign_in_is_rate_limited_per_address_and_per_email(app: Flask) -> None:
    client = app.test_client()
    token = csrf_of(client, "/signin")

    def attempt(email: str, address: str) -> int:
        form = {"email": email, "password": "wrong guess", "csrf_token": token}
        answer = client.post("/signin", data=form, environ_base={"REMOTE_ADDR": address})
        return answer.status_code

    assert [attempt("office@a.example", "10.0.0.1") for _ in range(10)] == [401] * 10
    assert attempt("office@a.example", "10.0.0.2") == 429  # the 11th try at one email
    refused = client.post(
        "/signin",
        data={"email": "office@a.example", "password": PASSWORD, "csrf_token": token},
        environ_base={"REMOTE_ADDR": "10.0.0.3"},
    )
    assert refused.status_code == 429 and "Too many attempts" in refused.text
    assert "Retry-After" in refused.headers
    assert [attempt(f"u{n}@a.example", "10.0.0.9") for n in range(20)] == [401] * 20
    assert attempt("another@a.example", "10.0.0.9") == 429  # the 21st from one address
    assert attempt("owner@a.example", "10.0.0.10") == 401  # others are not locked out


def test_every_form_needs_its_csrf_token(app: Flask) -> None:
    """Signed in, every POST route without the form's token is refused (400) and does nothing."""
    owner = signed_in(app, "owner@a.example")
    posted = 0
    for rule in app.url_map.iter_rules():
        if "POST" not in (rule.methods or set()) or rule.endpoint == "signin":
            continue
        path = re.sub(r"<any\([^)]*\):step>", "close", rule.rule)
        path = re.sub(r"<[^>]+>", "x", path)
        answer = owner.post(path, data={"reason": "no token"})
        assert answer.status_code == 400, (path, answer.status_code)
        assert "form has expired" in answer.text
        posted += 1
    assert posted >= 24
    assert owner.get("/invoices").status_code == 200  # still signed in: nothing was done


def test_office_staff_revoke_a_sent_invoices_pay_link_with_the_form(
    app: Flask, invoicing: FakeInvoicing
) -> None:
    """Revoke pay link: a button on a sent invoice that still has a balance (not on a draft), a
    POST with the form's CSRF token, for office and owner only, the shop's own invoices only; the
    timeline then says who revoked it."""
    office = signed_in(app, "office@a.example")
    assert "Revoke pay link" not in office.get("/invoices/inv-a").text  # a draft has no link
    invoicing.by_shop["shop-a"]["inv-a"].update(
        status="sent",
        invoice_number="INV-2026-000001",
        pay_url="https://pay.example/p/old",
        link_number=1,
    )
    page = office.get("/invoices/inv-a").text
    assert "Revoke pay link" in page and 'action="/invoices/inv-a/pay-link"' in page
    token = csrf_of(office, "/invoices/inv-a")
    assert '<input type="hidden" name="link_number" value="1">' in page
    form = {"csrf_token": token, "reason": "texted to the wrong number", "link_number": "1"}
    assert office.post("/invoices/inv-a/pay-link", data={"reason": "x"}).status_code == 400
    tech = signed_in(app, "tech@a.example")
    tech_form = {**form, "csrf_token": csrf_of(tech, "/my-jobs")}
    assert tech.post("/invoices/inv-a/pay-link", data=tech_form).status_code == 403
    other = signed_in(app, "office@b.example")
    other_form = {**form, "csrf_token": csrf_of(other, "/invoices")}
    assert other.post("/invoices/inv-a/pay-link", data=other_form).status_code == 404
    assert invoicing.replaced == []
    revoked = office.post("/invoices/inv-a/pay-link", data=form)
    assert revoked.status_code == 302 and revoked.headers["Location"].endswith("#pay-link")
    assert invoicing.replaced == [("shop-a", "inv-a", "Office", "texted to the wrong number", 1)]
    after = office.get("/invoices/inv-a").text
    assert "Pay link revoked: the old link no longer works" in after
    assert "Office</strong> revoked the pay link and issued a new one" in after
    assert "https://pay.example/p/new-link-1" in after
    invoicing.by_shop["shop-a"]["inv-a"]["status"] = "void"
    refused = office.post("/invoices/inv-a/pay-link", data=form)
    assert refused.status_code == 422 and "has not been sent" in refused.text
    assert len(invoicing.replaced) == 1
