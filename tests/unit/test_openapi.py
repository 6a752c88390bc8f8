"""Each service's OpenAPI document is generated from its routes, validates, and matches them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from openapi_spec_validator import validate

from services.invoicing.entrypoints.flask_app import app as invoicing_app
from services.jobs.entrypoints.flask_app import app as jobs_app
from shared.http import PROBES

pytestmark = pytest.mark.unit
APPS = {"jobs": jobs_app, "invoicing": invoicing_app}


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
            if path in PROBES:
                assert "security" not in op, where
                continue
            assert op["security"] == [{"bearer": []}], where
            assert any(p["name"] == "X-Shop-Id" for p in op["parameters"]), where
            assert op["summary"] and op["summary"] != op.get("operationId"), where


def test_request_and_response_models_come_from_pydantic() -> None:
    doc = document(jobs_app)
    create = doc["paths"]["/jobs"]["post"]
    body_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body_ref == "#/components/schemas/CreateJob"
    schemas = doc["components"]["schemas"]
    assert {"CreateJob", "LineItemIn", "JobOut", "LineItem", "CustomerOut", "Error"} <= set(schemas)
    assert set(create["responses"]) >= {"201", "400", "413", "422"}
    assert "quantity" in schemas["LineItemIn"]["properties"]
