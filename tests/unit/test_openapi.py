"""Each service's OpenAPI document is generated from its routes, validates, and matches them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from openapi_spec_validator import validate

from services.invoicing.entrypoints.flask_app import app as invoicing_app
from services.jobs.entrypoints.flask_app import app as jobs_app
from services.notifications.entrypoints.flask_app import app as notifications_app
from services.payments.entrypoints.flask_app import app as payments_app
from services.reporting.entrypoints.flask_app import app as reporting_app
from shared.http import PROBES

pytestmark = pytest.mark.unit
APPS = {
    "jobs": jobs_app,
    "invoicing": invoicing_app,
    "notifications": notifications_app,
    "payments": payments_app,
    "reporting": reporting_app,
}
PUBLIC = ("/p/", "/webhooks/")


def document(app: Flask) -> dict[str, Any]:
    response = app.test_client().get("/openapi.json")  # no token, no shop: it is public
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    return body


def routes(app: Flask) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[a-z_]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        found.setdefault(path, set()).update(
            m.lower() for m in (rule.methods or set()) - {"HEAD", "OPTIONS"}
        )
    return found


@pytest.mark.parametrize("name", APPS)
def test_the_document_is_valid_openapi(name: str) -> None:
    validate(document(APPS[name]))


@pytest.mark.parametrize("name", APPS)
def test_the_document_lists_exactly_the_routes(name: str) -> None:
    doc = document(APPS[name])
    documented = {path: set(ops) for path, ops in doc["paths"].items()}
    assert documented == routes(APPS[name])


@pytest.mark.parametrize("name", APPS)
def test_business_routes_need_the_token_and_a_shop(name: str) -> None:
    for path, operations in document(APPS[name])["paths"].items():
        for method, op in operations.items():
            where = f"{method.upper()} {path}"
            if path in PROBES or path.startswith(PUBLIC):
                assert "security" not in op, where
                assert all(p["name"] != "X-Shop-Id" for p in op.get("parameters", [])), where
                continue
            assert op["security"] == [{"bearer": []}], where
            assert any(p["name"] == "X-Shop-Id" for p in op["parameters"]), where
            assert op["summary"] and op["summary"] != op.get("operationId"), where
            assert {"400", "401"} <= set(op["responses"]), where  # a bad shop, a wrong token


def test_public_routes_say_how_they_are_checked_instead() -> None:
    """The pay page answers HTML (its 404 too), posts from it need the page's CSRF token, the
    providers' webhooks take their own bodies and signatures and refuse without them."""
    payments = document(payments_app)["paths"]
    page = payments["/p/{token}"]["get"]["responses"]
    assert set(page["200"]["content"]) == set(page["404"]["content"]) == {"text/html"}
    assert "429" in page  # rate-limited per client address
    pay = payments["/p/{token}/payments"]["post"]
    assert [p["name"] for p in pay["parameters"] if p["in"] == "header"] == ["X-CSRF-Token"]
    assert "403" in pay["responses"]
    stripe = payments["/webhooks/stripe"]["post"]
    assert "400" in stripe["responses"] and "requestBody" in stripe
    hooks = document(notifications_app)["paths"]
    status = hooks["/webhooks/twilio/status"]["post"]
    assert set(status["requestBody"]["content"]) == {"application/x-www-form-urlencoded"}
    assert "403" in status["responses"]
    assert "403" in hooks["/webhooks/sendgrid"]["post"]["responses"]


def test_query_parameters_have_their_shape() -> None:
    jobs = document(jobs_app)["paths"]["/jobs"]["get"]["parameters"]
    schemas = {p["name"]: p["schema"] for p in jobs}
    assert schemas["limit"] == {"type": "integer", "minimum": 1, "maximum": 200}
    assert schemas["status"]["enum"] == ["canceled", "closed", "in_progress", "scheduled"]
    aging = document(reporting_app)["paths"]["/reports/ar-aging"]["get"]["parameters"]
    assert {p["name"]: p["schema"] for p in aging}["as_of"] == {"type": "string", "format": "date"}
    shop = next(p for p in jobs if p["name"] == "X-Shop-Id")["schema"]
    assert shop["pattern"] == "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


def test_request_and_response_models_come_from_pydantic() -> None:
    doc = document(jobs_app)
    create = doc["paths"]["/jobs"]["post"]
    body_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body_ref == "#/components/schemas/CreateJob"
    schemas = doc["components"]["schemas"]
    assert {"CreateJob", "LineItemIn", "JobOut", "LineItem", "CustomerOut", "Error"} <= set(schemas)
    assert set(create["responses"]) >= {"201", "400", "413", "422"}
    assert "quantity" in schemas["LineItemIn"]["properties"]


def test_every_status_a_route_answers_is_declared() -> None:
    """Found by the fuzz run: + Invoice on an estimate already invoiced answers 200 with that
    invoice (201 only when it makes one); every body may be too large (413)."""
    paths = document(invoicing_app)["paths"]
    responses = paths["/invoices/from-estimate"]["post"]["responses"]
    assert {"200", "201"} <= set(responses)
    assert responses["200"]["content"] == responses["201"]["content"]
    assert "413" in paths["/invoices/{invoice_id}/notes"]["post"]["responses"]
    probes = document(jobs_app)["paths"]
    assert {"200", "503"} <= set(probes["/readyz"]["get"]["responses"])
    assert set(probes["/metrics"]["get"]["responses"]["200"]["content"]) == {"text/plain"}
