"""The staff app's rendering shortcuts give the pages they replace, character for character: the
remembered ``url_for`` builds what Flask's builds (for every kind of value, under any mount
point and host, never one request's address for another's), and ``row.name`` on a service's
JSON object reads its key as Jinja's own lookup would."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, render_template_string, url_for
from jinja2 import Undefined

from services.gateway.entrypoints.web import PageEnvironment, remembered_url_for

pytestmark = pytest.mark.unit
AWKWARD = ["0dab9792-bb3d-51da-b756-889d17586946", "a b", "ä/ö", "100%", "x?y#z", "+&=", ""]


@pytest.fixture
def app() -> Flask:
    app = Flask(__name__)
    app.jinja_environment = PageEnvironment

    @app.get("/invoices")
    def invoices() -> str:
        return ""

    @app.get("/invoices/<invoice_id>")
    def invoice(invoice_id: str) -> str:
        return invoice_id

    @app.get("/reports/<int:year>")
    def report(year: int) -> str:
        return str(year)

    return app


@pytest.mark.parametrize("value", AWKWARD[:-1])
def test_a_remembered_address_is_flasks_own(app: Flask, value: str) -> None:
    remembered = remembered_url_for(app)
    with app.test_request_context("/"):
        for _ in range(2):  # built, then remembered
            assert remembered("invoice", invoice_id=value) == url_for("invoice", invoice_id=value)
            assert remembered("invoices", status=value, q="é") == url_for(
                "invoices", status=value, q="é"
            )
        assert remembered("report", year=2026) == url_for("report", year=2026) == "/reports/2026"


def test_an_address_is_never_another_mount_points_or_hosts(app: Flask) -> None:
    remembered = remembered_url_for(app)
    seen = []
    for root, host, scheme in [("", "a", "http"), ("/staff", "a", "http"), ("", "b", "https")]:
        with app.test_request_context("/", base_url=f"{scheme}://{host}{root}"):
            path = remembered("invoice", invoice_id="i-1")
            external = remembered("invoice", invoice_id="i-1", _external=True)
            assert path == url_for("invoice", invoice_id="i-1")
            assert external == url_for("invoice", invoice_id="i-1", _external=True)
            seen.append((path, external))
    assert seen == [
        ("/invoices/i-1", "http://a/invoices/i-1"),
        ("/staff/invoices/i-1", "http://a/staff/invoices/i-1"),
        ("/invoices/i-1", "https://b/invoices/i-1"),
    ]


def test_a_value_that_cannot_be_a_key_is_built_afresh(app: Flask) -> None:
    remembered = remembered_url_for(app)
    with app.test_request_context("/"):
        assert remembered("invoices", status=["sent", "paid"]) == url_for(
            "invoices", status=["sent", "paid"]
        )


class Row:
    name = "from an attribute"


ROWS: list[tuple[str, dict[str, Any]]] = [
    ("{{ row.name }}", {"row": {"name": "Ana <b>"}}),
    ("{{ row.name }}", {"row": Row()}),
    ("[{{ row.missing }}]", {"row": {"name": "x"}}),
    ("{{ row.name.upper() }}", {"row": {"name": "ana"}}),
    (
        "{{ names.get('c-1', 'Customer') }}|{{ names.get('c-9', 'Customer') }}",
        {"names": {"c-1": "Ana"}},
    ),
    ("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", {"d": {"a": 1, "b": 2}}),
    ("{{ page['items'] | length }} {{ page.next }}", {"page": {"items": [1, 2], "next": "c"}}),
]


@pytest.mark.parametrize(("source", "context"), ROWS)
def test_a_dicts_keys_read_as_jinjas_own_lookup_reads_them(
    app: Flask, source: str, context: dict[str, Any]
) -> None:
    with app.test_request_context("/"):
        assert isinstance(app.jinja_env, PageEnvironment)
        ours = render_template_string(source, **context)
    plain = Flask(__name__)
    with plain.test_request_context("/"):
        assert not isinstance(plain.jinja_env, PageEnvironment)
        assert ours == render_template_string(source, **context)


def test_a_missing_key_is_undefined_as_before(app: Flask) -> None:
    with app.test_request_context("/"):
        assert isinstance(app.jinja_env.getattr({"a": 1}, "b"), Undefined)
        assert app.jinja_env.getattr({"a": 1}, "a") == 1
