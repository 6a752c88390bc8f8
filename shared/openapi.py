"""OpenAPI 3 for a service, generated from its routes and their pydantic models (apispec assembles
the document; pydantic writes the schemas). A route says what it takes and returns with ``@doc``."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from apispec import APISpec
from flask import Flask
from pydantic import BaseModel

F = TypeVar("F", bound=Callable[..., Any])
REF = "#/components/schemas/{model}"
JSON = "application/json"
STRING: dict[str, Any] = {"type": "string"}
SHOP_ID_PATTERN = "[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
"""What ``X-Shop-Id`` must look like (shared.http checks it: 400 otherwise)."""
SHOP_ID = {"type": "string", "pattern": f"^{SHOP_ID_PATTERN}$"}
HTML = "text/html"
SECURED_ERRORS = frozenset({400, 401})
"""What any route behind the token may answer: 400 for a missing or malformed ``X-Shop-Id`` (or a
control character in the URL), 401 for a missing or wrong bearer token."""
UNDOCUMENTED = frozenset({"static"})
PARAM = re.compile(r"<(?:[a-z_]+:)?([a-z_]+)>")


class ErrorField(BaseModel):
    field: str
    reason: str


class Error(BaseModel):
    """Every 4xx/5xx answer: a code, the fields at fault with their reasons, and a message."""

    error: str
    fields: list[ErrorField]
    message: str = ""


@dataclass(frozen=True)
class Query:
    """A query parameter narrower than "any string": its JSON Schema (an integer range, one of
    some words, a date), so a client — or a fuzzer — knows what the route accepts."""

    description: str
    schema: dict[str, Any]


def whole_number(description: str, low: int, high: int) -> Query:
    return Query(description, {"type": "integer", "minimum": low, "maximum": high})


def one_of(description: str, values: Iterable[str]) -> Query:
    return Query(description, {"type": "string", "enum": sorted(values)})


def day(description: str) -> Query:
    return Query(description, {"type": "string", "format": "date"})


@dataclass(frozen=True)
class Operation:
    summary: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    query: dict[str, str | Query] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    media: str = JSON
    body_media: str = JSON
    headers: dict[str, str] = field(default_factory=dict)
    page_errors: tuple[int, ...] = ()
    also: tuple[int, ...] = ()


def doc(
    summary: str,
    *,
    body: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    query: dict[str, str | Query] | None = None,
    errors: tuple[int, ...] = (),
    media: str = JSON,
    body_media: str = JSON,
    headers: dict[str, str] | None = None,
    page_errors: tuple[int, ...] = (),
    also: tuple[int, ...] = (),
) -> Callable[[F], F]:
    """Describe a route for the OpenAPI document. ``query`` maps parameter → description (any
    string) or ``Query`` (its shape);
    ``media`` is what a success answers with (a PDF, a page, CSV …), ``body_media`` how the body
    is sent (a provider's form post); ``headers`` are the request headers the route needs (a
    provider's signature, the pay page's CSRF token), name → description; ``page_errors`` are
    the error statuses answered with an HTML page instead of the JSON error; ``also`` are other
    statuses answered with the success's body (readiness: 503 "not ready")."""

    def mark(view: F) -> F:
        view.openapi = Operation(  # type: ignore[attr-defined]
            summary,
            body,
            response,
            status,
            query or {},
            errors,
            media,
            body_media,
            headers or {},
            page_errors,
            also,
        )
        return view

    return mark


def build(
    app: Flask, title: str, *, open_paths: frozenset[str], open_prefixes: tuple[str, ...] = ()
) -> dict[str, Any]:
    """``open_paths`` and paths under ``open_prefixes`` need no token and no shop."""
    spec = APISpec(title=title, version="1.0.0", openapi_version="3.1.0")
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    _add_schema(spec, Error)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint in UNDOCUMENTED:
            continue
        view = app.view_functions[rule.endpoint]
        operation: Operation = getattr(view, "openapi", Operation(summary=rule.endpoint))
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        secured = rule.rule not in open_paths and not rule.rule.startswith(open_prefixes)
        spec.path(
            path=PARAM.sub(r"{\1}", rule.rule),
            operations={
                m.lower(): _operation(spec, operation, rule.rule, secured) for m in methods
            },
        )
    return spec.to_dict()


def _operation(spec: APISpec, op: Operation, rule: str, secured: bool) -> dict[str, Any]:
    result: dict[str, Any] = {
        "summary": op.summary,
        "responses": _responses(spec, op, rule, secured),
    }
    params = [_path_param(name) for name in PARAM.findall(rule)]
    params += [_query_param(name, text) for name, text in op.query.items()]
    params += [_header(name, text) for name, text in op.headers.items()]
    if secured:
        params.append(_header("X-Shop-Id", "The shop (tenant) the call is for.", SHOP_ID))
        result["security"] = [{"bearer": []}]
    if params:
        result["parameters"] = params
    if op.body is not None:
        body = {"schema": {"$ref": REF.format(model=_add_schema(spec, op.body))}}
        result["requestBody"] = {"required": True, "content": {op.body_media: body}}
    return result


def _responses(spec: APISpec, op: Operation, rule: str, secured: bool) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "OK"}
    if op.response is not None:
        ok["content"] = _json(_add_schema(spec, op.response))
    elif op.media != JSON:
        ok["content"] = {op.media: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(code): ok for code in (op.status, *op.also)}
    codes = set(op.errors) | set(op.page_errors)
    if op.body is not None or op.query or op.headers:
        codes |= {400, 422}
    if op.body is not None:
        codes.add(413)  # any body over shared.http.MAX_BODY_BYTES
    if PARAM.search(rule):
        codes.add(404)
    if secured:
        codes |= SECURED_ERRORS
    for code in sorted(codes):
        content = (
            {HTML: {"schema": {"type": "string"}}} if code in op.page_errors else _json("Error")
        )
        responses[str(code)] = {"description": "Error", "content": content}
    return responses


def _add_schema(spec: APISpec, model: type[BaseModel]) -> str:
    name = model.__name__
    if name in spec.components.schemas:
        return name
    schema = model.model_json_schema(ref_template=REF)
    for sub_name, sub_schema in schema.pop("$defs", {}).items():
        if sub_name not in spec.components.schemas:
            spec.components.schema(sub_name, sub_schema)
    spec.components.schema(name, schema)
    return name


def _json(name: str) -> dict[str, Any]:
    return {JSON: {"schema": {"$ref": REF.format(model=name)}}}


def _path_param(name: str) -> dict[str, Any]:
    return _param(name, "path", True)


def _query_param(name: str, described: str | Query) -> dict[str, Any]:
    if isinstance(described, Query):
        return _param(name, "query", False, described.description, described.schema)
    return _param(name, "query", False, described)


def _header(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return _param(name, "header", True, description, schema)


def _param(
    name: str,
    where: str,
    required: bool,
    description: str = "",
    schema: dict[str, Any] | None = None,
) -> dict[str, Any]:
    param = {"name": name, "in": where, "required": required, "schema": schema or STRING}
    return {**param, "description": description} if description else param
