"""The shared HTTP scaffolding: auth, tenancy, JSON errors and probes, on a tiny app."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import psycopg_pool
import pytest
from flask import Flask, Response, jsonify
from flask.testing import FlaskClient
from pydantic import BaseModel, Field

from shared.http import FieldError, create_app, parse_body, shop_id
from tests.support.responses import body_of

pytestmark = pytest.mark.unit

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}", "X-Shop-Id": "shop-1"}
SECRET_DETAIL = "password=hunter2 at db.internal:5432"


class OutOfStockError(Exception):
    pass


class Widget(BaseModel):
    name: str = Field(min_length=1)
    quantity: int = Field(gt=0)


def build(ready: Callable[[], bool] = lambda: True) -> Flask:
    app = create_app("widgets", TOKEN, ready, errors={OutOfStockError: 409})

    @app.post("/widgets")
    def create_widget() -> tuple[Response, int]:
        widget = parse_body(Widget)
        return jsonify(shop=shop_id(), **widget.model_dump()), 201

    @app.get("/boom")
    def boom() -> Response:
        raise RuntimeError(SECRET_DETAIL)

    @app.get("/database-away")
    def database_away() -> Response:
        raise psycopg.OperationalError(
            f"server closed the connection unexpectedly ({SECRET_DETAIL})"
        )

    @app.get("/sold-out")
    def sold_out() -> Response:
        raise OutOfStockError("widget w-1 is out of stock")

    @app.get("/wrong-field")
    def wrong_field() -> Response:
        raise FieldError("customer_id", "unknown customer")

    return app


@pytest.fixture
def client() -> FlaskClient:
    return build().test_client()


def test_authorised_request_with_a_shop_reaches_the_route(client: FlaskClient) -> None:
    response = client.post("/widgets", json={"name": "bolt", "quantity": 3}, headers=AUTH)
    assert response.status_code == 201
    assert body_of(response) == {"shop": "shop-1", "name": "bolt", "quantity": 3}


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wrong-token", f"Bearer {TOKEN}x", f"Basic {TOKEN}"],
)
def test_401_without_the_right_bearer_token(client: FlaskClient, authorization: str | None) -> None:
    headers = {"X-Shop-Id": "shop-1"}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = client.post("/widgets", json={"name": "bolt", "quantity": 1}, headers=headers)
    assert response.status_code == 401
    body = body_of(response)
    assert body["error"] == "unauthorized"
    assert body["fields"][0]["field"] == "Authorization"


def test_401_comes_before_routing_so_unknown_routes_reveal_nothing(client: FlaskClient) -> None:
    assert client.get("/no-such-route").status_code == 401


@pytest.mark.parametrize("shop", [None, "", "   "])
def test_400_without_x_shop_id(client: FlaskClient, shop: str | None) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if shop is not None:
        headers["X-Shop-Id"] = shop
    response = client.post("/widgets", json={"name": "bolt", "quantity": 1}, headers=headers)
    assert response.status_code == 400
    body = body_of(response)
    assert body["error"] == "missing_shop"
    assert body["fields"] == [{"field": "X-Shop-Id", "reason": "header is required"}]


def test_422_lists_every_invalid_field_with_its_reason(client: FlaskClient) -> None:
    response = client.post("/widgets", json={"name": "", "quantity": 0, "extra": 1}, headers=AUTH)
    assert response.status_code == 422
    body = body_of(response)
    assert body["error"] == "validation_failed"
    fields = {f["field"]: f["reason"] for f in body["fields"]}
    assert set(fields) == {"name", "quantity"}
    assert "at least 1 character" in fields["name"]
    assert "greater than 0" in fields["quantity"]
    assert "name:" in body["message"] and "quantity:" in body["message"]


def test_422_names_a_missing_field(client: FlaskClient) -> None:
    response = client.post("/widgets", json={"name": "bolt"}, headers=AUTH)
    assert response.status_code == 422
    assert body_of(response)["fields"] == [{"field": "quantity", "reason": "Field required"}]


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("name=bolt", "application/x-www-form-urlencoded"),
        ("{not json", "application/json"),
        ("[1, 2]", "application/json"),
        ("", "application/json"),
        ("hello", "text/plain"),
    ],
)
def test_400_for_a_body_that_is_not_a_json_object(
    client: FlaskClient, data: str, content_type: str
) -> None:
    response = client.post("/widgets", data=data, content_type=content_type, headers=AUTH)
    assert response.status_code == 400
    body = body_of(response)
    assert body["error"] == "invalid_request"
    assert body["fields"] == [{"field": "body", "reason": "must be a JSON object"}]


def test_field_error_on_a_named_field_is_422(client: FlaskClient) -> None:
    response = client.get("/wrong-field", headers=AUTH)
    assert response.status_code == 422
    assert body_of(response)["fields"] == [{"field": "customer_id", "reason": "unknown customer"}]


def test_404_is_json_for_an_unknown_route(client: FlaskClient) -> None:
    response = client.get("/no-such-route", headers=AUTH)
    assert response.status_code == 404
    body = body_of(response)
    assert body["error"] == "not_found"
    assert body["fields"] == []


def test_405_is_json_too(client: FlaskClient) -> None:
    response = client.delete("/widgets", headers=AUTH)
    assert response.status_code == 405
    assert body_of(response)["error"] == "method_not_allowed"


def test_mapped_domain_exception_gets_its_status_and_message(client: FlaskClient) -> None:
    response = client.get("/sold-out", headers=AUTH)
    assert response.status_code == 409
    assert body_of(response) == {
        "error": "out_of_stock_error",
        "fields": [],
        "message": "widget w-1 is out of stock",
    }


def test_500_is_json_without_a_stack_trace_or_the_error_text(client: FlaskClient) -> None:
    response = client.get("/boom", headers=AUTH)
    assert response.status_code == 500
    body = body_of(response)
    assert body["error"] == "internal_error"
    assert body["fields"] == []
    raw = response.get_data(as_text=True)
    assert "Traceback" not in raw
    assert "RuntimeError" not in raw
    assert "hunter2" not in raw


def test_probes_need_no_auth(client: FlaskClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert body_of(client.get("/healthz")) == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and body_of(ready) == {"status": "ready"}
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert b"http_requests_total" in metrics.data


def test_readyz_is_503_when_not_ready_or_the_check_fails() -> None:
    def broken() -> bool:
        raise ConnectionError("database down")

    for check in (lambda: False, broken):
        response = build(check).test_client().get("/readyz")
        assert response.status_code == 503
        assert body_of(response) == {"status": "not ready"}


def test_correlation_id_is_echoed_or_minted(client: FlaskClient) -> None:
    echoed = client.get("/healthz", headers={"X-Correlation-Id": "corr-123"})
    assert echoed.headers["X-Correlation-Id"] == "corr-123"
    minted = client.get("/healthz").headers["X-Correlation-Id"]
    assert minted and minted != "corr-123"
    assert client.get("/boom", headers=AUTH).headers["X-Correlation-Id"]


# --- auth cannot fail open ----------------------------------------------------------------------


def test_an_empty_or_short_configured_token_is_refused_at_start() -> None:
    for token in ("", "short"):
        with pytest.raises(ValueError, match="INTERNAL_API_TOKEN"):
            create_app("open", token, lambda: True)


def test_the_token_must_come_with_the_bearer_scheme(client: FlaskClient) -> None:
    headers = {"Authorization": TOKEN, "X-Shop-Id": "shop-1"}
    response = client.post("/widgets", json={"name": "bolt", "quantity": 1}, headers=headers)
    assert response.status_code == 401


def test_a_database_that_went_away_is_a_503_to_try_again_never_a_500(client: FlaskClient) -> None:
    api = client.get("/database-away", headers=AUTH)
    assert api.status_code == 503 and api.headers["Retry-After"] == "1"
    assert body_of(api)["error"] == "database_unavailable"
    assert SECRET_DETAIL not in api.get_data(as_text=True)
    browser = {**AUTH, "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    page = client.get("/database-away", headers=browser)
    assert page.status_code == 503 and page.mimetype == "text/html"
    assert "try again shortly" in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("failure", "status"),
    [
        (psycopg.errors.AdminShutdown("terminating connection due to administrator command"), 503),
        (psycopg.errors.ConnectionFailure("connection to the server was lost"), 503),
        (psycopg.errors.DeadlockDetected("deadlock detected"), 503),
        (psycopg_pool.PoolTimeout("couldn't get a connection after 30.00 sec"), 503),
        (
            psycopg.errors.ProgramLimitExceeded(f"index row size exceeds maximum {SECRET_DETAIL}"),
            500,
        ),
        (psycopg.errors.DiskFull(f"could not extend file {SECRET_DETAIL}"), 500),
        (psycopg.errors.InvalidPassword(f"password authentication failed {SECRET_DETAIL}"), 500),
    ],
)
def test_only_a_database_a_retry_can_reach_again_is_a_503(
    failure: psycopg.OperationalError, status: int
) -> None:
    """A statement over PostgreSQL's limits, a full disk or a wrong password is not "try again
    shortly": the client would retry for ever and the fault would hide behind a warning."""
    app = build()

    @app.get("/failing")
    def failing() -> Response:
        raise failure

    answer = app.test_client().get("/failing", headers=AUTH)
    assert answer.status_code == status
    expected = "database_unavailable" if status == 503 else "internal_error"
    assert body_of(answer)["error"] == expected
    assert SECRET_DETAIL not in answer.get_data(as_text=True)
