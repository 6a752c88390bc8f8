"""Hostile HTTP input gets a 4xx naming the field and the reason, never a 500 (no database)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from flask import Flask, Response, jsonify, request
from flask.testing import FlaskClient
from pydantic import BaseModel, Field, ValidationError

from services.jobs.service_layer import commands
from shared import pagination
from shared.http import MAX_BODY_BYTES, FieldError, create_app, parse_body, shop_id
from tests.support.responses import body_of, fields

pytestmark = pytest.mark.unit

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}", "X-Shop-Id": "shop-1"}


class Address(BaseModel):
    line1: str = Field(min_length=1, max_length=500)
    line2: str = ""


class Customer(BaseModel):
    name: str = Field(min_length=1, max_length=500)
    billing_address: Address
    tags: list[str] = Field(default_factory=list)
    notes: dict[str, str] = Field(default_factory=dict)


class Blob(BaseModel):
    blob: str


def build() -> Flask:
    app = create_app("hardened", TOKEN, lambda: True)

    @app.post("/customers")
    def create_customer() -> tuple[Response, int]:
        customer = parse_body(Customer)
        return jsonify(shop=shop_id(), **customer.model_dump()), 201

    @app.post("/blobs")
    def create_blob() -> tuple[Response, int]:
        return jsonify(size=len(parse_body(Blob).blob)), 201

    @app.get("/things/<thing_id>")
    def get_thing(thing_id: str) -> Response:
        return jsonify(thing_id=thing_id, q=request.args.get("q"))

    return app


@pytest.fixture
def client() -> FlaskClient:
    return build().test_client()


def customer(**overrides: Any) -> dict[str, Any]:
    return {"name": "Pat Doe", "billing_address": {"line1": "1 Elm St"}, **overrides}


# --- 1. nesting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["[" * 5000, '{"a":' * 5000, "[" * 100_000])
def test_json_nested_past_the_parsers_limit_is_400_on_body(client: FlaskClient, raw: str) -> None:
    response = client.post("/customers", data=raw, content_type="application/json", headers=AUTH)
    assert response.status_code == 400
    assert body_of(response)["error"] == "invalid_request"
    assert fields(response) == {"body": "JSON is nested too deeply"}


def test_json_the_parser_accepts_but_nested_absurdly_deep_is_400_on_body(
    client: FlaskClient,
) -> None:
    deep = "[" * 500 + "]" * 500
    raw = '{"name": "x", "billing_address": {"line1": "y"}, "tags": ' + deep + "}"
    response = client.post("/customers", data=raw, content_type="application/json", headers=AUTH)
    assert response.status_code == 400
    assert fields(response) == {"body": "JSON is nested more than 32 levels deep"}


def test_modest_nesting_is_fine(client: FlaskClient) -> None:
    response = client.post("/customers", json=customer(tags=["a", "b"]), headers=AUTH)
    assert response.status_code == 201


# --- 4. NUL and control characters ---------------------------------------------------------------


def test_nul_in_a_json_string_is_422_naming_the_field_path(client: FlaskClient) -> None:
    body = customer(name="Pat\x00Doe", billing_address={"line1": "1 Elm\x00St"})
    response = client.post("/customers", json=body, headers=AUTH)
    assert response.status_code == 422
    assert body_of(response)["error"] == "invalid_request"
    assert fields(response) == {
        "name": "must not contain NUL characters",
        "billing_address.line1": "must not contain NUL characters",
    }
    assert "billing_address.line1: must not contain NUL" in body_of(response)["message"]


def test_nul_in_a_list_item_names_its_index(client: FlaskClient) -> None:
    response = client.post("/customers", json=customer(tags=["ok", "\x00"]), headers=AUTH)
    assert response.status_code == 422
    assert set(fields(response)) == {"tags.1"}


@pytest.mark.parametrize("char", ["\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x1f"])
def test_other_c0_controls_in_free_text_are_422(client: FlaskClient, char: str) -> None:
    response = client.post("/customers", json=customer(name=f"a{char}b"), headers=AUTH)
    assert response.status_code == 422
    assert fields(response) == {
        "name": "must not contain control characters other than tab, newline and carriage return"
    }


def test_a_lone_surrogate_is_422(client: FlaskClient) -> None:
    raw = '{"name": "a\\ud800b", "billing_address": {"line1": "x"}}'
    response = client.post("/customers", data=raw, content_type="application/json", headers=AUTH)
    assert response.status_code == 422
    assert fields(response) == {"name": "must not contain unpaired surrogates (invalid Unicode)"}


def test_tab_newline_carriage_return_and_unicode_are_fine(client: FlaskClient) -> None:
    name = "Tab\there\nnewline\r\nJosé 😀"
    response = client.post("/customers", json=customer(name=name), headers=AUTH)
    assert response.status_code == 201
    assert body_of(response)["name"] == name


def test_a_key_with_nul_is_422_naming_the_object(client: FlaskClient) -> None:
    response = client.post("/customers", json=customer(notes={"a\x00": "b"}), headers=AUTH)
    assert response.status_code == 422
    assert fields(response) == {
        "notes": "keys must not contain control characters or invalid Unicode"
    }


@pytest.mark.parametrize(
    "path",
    ["/things/a%00b", "/things/%00", "/things/a%01b", "/things/a%0Ab", "/things/a%7Fb"],
)
def test_control_characters_in_the_path_are_400(client: FlaskClient, path: str) -> None:
    response = client.get(path, headers=AUTH)
    assert response.status_code == 400
    assert body_of(response)["error"] == "invalid_request"
    assert fields(response) == {"path": "must not contain NUL or other control characters"}


def test_nul_in_an_unknown_path_is_400_too(client: FlaskClient) -> None:
    assert client.get("/nowhere/%00", headers=AUTH).status_code == 400


@pytest.mark.parametrize("query", ["q=%00", "q=a%00b", "q=ok&q=%00", "q=%09"])
def test_control_characters_in_a_query_value_are_400_naming_it(
    client: FlaskClient, query: str
) -> None:
    response = client.get("/things/t-1", query_string=query, headers=AUTH)
    assert response.status_code == 400
    assert fields(response) == {"q": "must not contain NUL or other control characters"}


def test_nul_in_a_query_name_is_400(client: FlaskClient) -> None:
    response = client.get("/things/t-1", query_string="a%00=1", headers=AUTH)
    assert response.status_code == 400
    assert set(fields(response)) == {"query"}


def test_an_ordinary_path_and_query_pass(client: FlaskClient) -> None:
    response = client.get("/things/t-1", query_string="q=hello%20world%C3%A9", headers=AUTH)
    assert response.status_code == 200
    assert body_of(response) == {"thing_id": "t-1", "q": "hello worldé"}


def test_auth_is_checked_before_the_path(client: FlaskClient) -> None:
    assert client.get("/things/%00").status_code == 401


# --- 5. X-Shop-Id --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shop",
    [
        "shop-a",
        "shop-b",
        "shop-1",
        "northwind-hvac",
        "bluepeak-plumbing",
        "smoke",
        "bench",
        "bench-latency",
        "A",
        "9",
        "acme_co.eu",
        "S" + "a.b_c-9" * 9,
    ],
)
def test_shop_ids_in_use_are_accepted(client: FlaskClient, shop: str) -> None:
    headers = {**AUTH, "X-Shop-Id": shop}
    response = client.post("/customers", json=customer(), headers=headers)
    assert response.status_code == 201
    assert body_of(response)["shop"] == shop


@pytest.mark.parametrize(
    "shop",
    [
        "s" * 65,
        "x" * 3000,
        "shop a",
        "-shop",
        ".shop",
        "_shop",
        "shop/1",
        "../etc",
        "sh\u00f6p",
        "a\tb",
    ],
)
def test_other_shop_ids_are_400_naming_the_header(client: FlaskClient, shop: str) -> None:
    headers = {**AUTH, "X-Shop-Id": shop}
    response = client.post("/customers", json=customer(), headers=headers)
    assert response.status_code == 400
    body = body_of(response)
    assert body["error"] == "invalid_shop"
    assert list(fields(response)) == ["X-Shop-Id"]
    assert "letters, digits" in fields(response)["X-Shop-Id"]


def test_surrounding_whitespace_on_the_shop_id_is_ignored(client: FlaskClient) -> None:
    headers = {**AUTH, "X-Shop-Id": "  shop-1 "}
    response = client.post("/customers", json=customer(), headers=headers)
    assert response.status_code == 201
    assert body_of(response)["shop"] == "shop-1"


# --- correlation ids -----------------------------------------------------------------------------


def test_a_malformed_correlation_id_is_400_on_the_api_and_replaced_on_probes(
    client: FlaskClient,
) -> None:
    bad = {"X-Correlation-Id": "x" * 129}
    response = client.post("/customers", json=customer(), headers={**AUTH, **bad})
    assert response.status_code == 400
    assert set(fields(response)) == {"X-Correlation-Id"}
    assert response.headers["X-Correlation-Id"] != bad["X-Correlation-Id"]
    probe = client.get("/healthz", headers={"X-Correlation-Id": "has space"})
    assert probe.status_code == 200
    assert probe.headers["X-Correlation-Id"] != "has space"


def test_an_ordinary_correlation_id_is_kept(client: FlaskClient) -> None:
    corr = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = client.post(
        "/customers", json=customer(), headers={**AUTH, "X-Correlation-Id": corr}
    )
    assert response.status_code == 201
    assert response.headers["X-Correlation-Id"] == corr


# --- 6. body size --------------------------------------------------------------------------------


def test_create_app_caps_bodies_at_one_mebibyte() -> None:
    assert MAX_BODY_BYTES == 1024 * 1024
    assert build().config["MAX_CONTENT_LENGTH"] == MAX_BODY_BYTES


def test_a_body_over_the_cap_is_413_json(client: FlaskClient) -> None:
    raw = json.dumps({"blob": "x" * MAX_BODY_BYTES})
    response = client.post("/blobs", data=raw, content_type="application/json", headers=AUTH)
    assert response.status_code == 413
    body = body_of(response)
    assert body["error"] == "request_entity_too_large"
    assert body["fields"] == [
        {"field": "body", "reason": f"must be at most {MAX_BODY_BYTES} bytes"}
    ]


def test_a_body_just_under_the_cap_is_fine(client: FlaskClient) -> None:
    raw = json.dumps({"blob": "x" * (MAX_BODY_BYTES - 20)})
    assert len(raw) <= MAX_BODY_BYTES
    response = client.post("/blobs", data=raw, content_type="application/json", headers=AUTH)
    assert response.status_code == 201
    assert body_of(response) == {"size": MAX_BODY_BYTES - 20}


# --- what must not change ------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_bearer_scheme_is_case_insensitive(client: FlaskClient, scheme: str) -> None:
    headers = {**AUTH, "Authorization": f"{scheme} {TOKEN}"}
    assert client.post("/customers", json=customer(), headers=headers).status_code == 201


def test_a_wrong_token_is_still_401_before_any_input_check(client: FlaskClient) -> None:
    headers = {"Authorization": "Bearer nope-nope", "X-Shop-Id": "x" * 3000}
    response = client.post("/customers", data="[" * 5000, headers=headers)
    assert response.status_code == 401
    assert set(fields(response)) == {"Authorization"}


def test_pydantic_errors_are_still_422_with_field_and_reason(client: FlaskClient) -> None:
    response = client.post("/customers", json={"name": "", "billing_address": {}}, headers=AUTH)
    assert response.status_code == 422
    assert body_of(response)["error"] == "validation_failed"
    assert set(fields(response)) == {"name", "billing_address.line1"}


# --- 2 and 3. the invoicing query parameters -----------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [("1", 1), ("50", 50), ("200", 200), ("007", 7)])
def test_limit_accepts_ascii_whole_numbers_in_range(text: str, expected: int) -> None:
    assert pagination.page_limit(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "\u00b2",  # superscript two: isdigit() but not int()
        "\u0663",  # Arabic-Indic three: int() takes it, but it is not what we document
        "\uff15",  # fullwidth five
        "9" * 5000,  # past int()'s 4300-digit limit
        "9" * 4000,
        "0",
        "201",
        "10000",
        "",
        " 5",
        "+5",
        "-1",
        "1.0",
        "1e2",
        "5\x00",
    ],
)
def test_limit_refuses_everything_else_as_a_field_error(text: str) -> None:
    with pytest.raises(FieldError) as caught:
        pagination.page_limit(text)
    assert caught.value.field == "limit"
    assert "whole number from 1 to 200" in caught.value.reason


def test_a_cursor_round_trips() -> None:
    item = {"drafted_at": "2024-05-01T12:30:00.123456+00:00", "invoice_id": "inv-1"}
    cursor = pagination.encode_cursor(item["drafted_at"], item["invoice_id"])
    after = pagination.decode_cursor(cursor)
    assert after is not None
    assert after[0].isoformat() == item["drafted_at"]
    assert after[1] == "inv-1"
    assert pagination.decode_cursor(None) is None
    assert pagination.decode_cursor("") is None


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


def as_cursor(value: object) -> str:
    return b64(json.dumps(value).encode())


@pytest.mark.parametrize(
    "text",
    [
        b64(b"[" * 3000),  # too long, and nested past json's recursion limit
        "A" * 5000,
        "!!!",
        "caf\u00e9",
        b64(b"\xff\xfe"),
        b64(b"not json"),
        as_cursor({"a": 1, "b": 2}),
        as_cursor([1, 2]),
        as_cursor(["2024-01-01T00:00:00+00:00"]),
        as_cursor(["2024-01-01T00:00:00+00:00", "inv-1", "extra"]),
        as_cursor(["2024-01-01T00:00:00+00:00", ""]),
        as_cursor(["2024-01-01T00:00:00+00:00", "x" * 201]),
        as_cursor(["2024-01-01T00:00:00+00:00", "inv\x00"]),
        as_cursor(["2024-01-01T00:00:00+00:00", "inv\n1"]),
        as_cursor(["2024-01-01T00:00:00", "inv-1"]),  # naive: not one we issued
        as_cursor(["yesterday", "inv-1"]),
        as_cursor(["2024-01-01T00:00:00+00:00\x00", "inv-1"]),
    ],
)
def test_a_cursor_we_did_not_issue_is_a_field_error(text: str) -> None:
    with pytest.raises(FieldError) as caught:
        pagination.decode_cursor(text)
    assert caught.value.field == "after"


def test_a_cursor_nested_past_the_recursion_limit_is_a_field_error_even_uncapped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pagination, "MAX_CURSOR_CHARS", 1_000_000)
    with pytest.raises(FieldError) as caught:
        pagination.decode_cursor(b64(b"[" * 100_000))
    assert caught.value.field == "after"
    assert isinstance(caught.value.__cause__, RecursionError)


# --- decimals PostgreSQL could not store ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1." + "0" * 20000, "1.0000"),
        ("7.25", "7.25"),
        ("0", "0"),
    ],
)
def test_tax_rates_are_brought_to_a_storable_scale(text: str, expected: str) -> None:
    item = commands.LineItemIn(
        description="x", quantity="1", unit_price_cents=1, tax_rate_percent=text
    )
    assert str(item.tax_rate_percent) == expected


@pytest.mark.parametrize(
    "text",
    ["0E-1000000", "0E+1000000", "1E+2", "1.0E-3", "١٢", "１", "1_000", "-0", "-0.00", "NaN"],
)
def test_numbers_nobody_types_are_refused_with_a_plain_reason(text: str) -> None:
    """Other digit systems, underscores, exponents, NaN and a signed zero: Decimal reads them,
    people never write them (each would be stored and shown as something nobody typed)."""
    with pytest.raises(ValidationError) as caught:
        commands.LineItemIn(
            description="x", quantity="1", unit_price_cents=1, tax_rate_percent=text
        )
    with pytest.raises(ValidationError):
        commands.LineItemIn(description="x", quantity=text, unit_price_cents=1)
    (error,) = caught.value.errors()
    assert error["loc"] == ("tax_rate_percent",)
    assert "digits 0-9" in error["msg"] or "no sign" in error["msg"]


@pytest.mark.parametrize(("text", "expected"), [("2.5", "2.5"), ("1", "1"), ("0.001", "0.001")])
def test_quantities_keep_their_value_and_a_storable_scale(text: str, expected: str) -> None:
    item = commands.LineItemIn(description="x", quantity=text, unit_price_cents=1)
    assert str(item.quantity) == expected
    hours = commands.LaborEntryIn(technician="t", hours="1." + "0" * 3000, hourly_rate_cents=1)
    assert str(hours.hours) == "1.00"
