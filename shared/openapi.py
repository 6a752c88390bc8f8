"""OpenAPI 3 for a service, generated from its routes and their pydantic models (apispec assembles
the document; pydantic writes the schemas). A route says what it takes and returns with ``@doc``."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from apispec import APISpec
from flask import Flask
from pydantic import BaseModel

F = TypeVar("F", bound=Callable[..., Any])
REF = "#/components/schemas/{model}"
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
class Operation:
    summary: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    query: dict[str, str] = field(default_factory=dict)
    errors: tuple[int, ...] = ()


def doc(
    summary: str,
    *,
    body: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    query: dict[str, str] | None = None,
    errors: tuple[int, ...] = (),
) -> Callable[[F], F]:
    """Describe a route for the OpenAPI document. ``query`` maps parameter → description."""

    def mark(view: F) -> F:
        view.openapi = Operation(summary, body, response, status, query or {}, errors)  # type: ignore[attr-defined]
        return view

    return mark


def build(app: Flask, title: str, *, open_paths: frozenset[str]) -> dict[str, Any]:
    spec = APISpec(title=title, version="1.0.0", openapi_version="3.1.0")
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    _add_schema(spec, Error)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint in UNDOCUMENTED:
            continue
        view = app.view_functions[rule.endpoint]
        operation: Operation = getattr(view, "openapi", Operation(summary=rule.endpoint))
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        spec.path(
            path=PARAM.sub(r"{\1}", rule.rule),
            operations={
                m.lower(): _operation(spec, operation, rule.rule, open_paths) for m in methods
            },
        )
    return spec.to_dict()


def _operation(
    spec: APISpec, op: Operation, rule: str, open_paths: frozenset[str]
) -> dict[str, Any]:
    result: dict[str, Any] = {"summary": op.summary, "responses": _responses(spec, op, rule)}
    params = [_path_param(name) for name in PARAM.findall(rule)]
    params += [_query_param(name, text) for name, text in op.query.items()]
    if rule not in open_paths:
        params.append(_header("X-Shop-Id", "The shop (tenant) the call is for."))
        result["security"] = [{"bearer": []}]
    if params:
        result["parameters"] = params
    if op.body is not None:
        result["requestBody"] = {"required": True, "content": _json(_add_schema(spec, op.body))}
    return result


def _responses(spec: APISpec, op: Operation, rule: str) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "OK"}
    if op.response is not None:
        ok["content"] = _json(_add_schema(spec, op.response))
    responses: dict[str, Any] = {str(op.status): ok}
    codes = set(op.errors)
    if op.body is not None or op.query:
        codes |= {400, 422}
    if PARAM.search(rule):
        codes.add(404)
    for code in sorted(codes):
        responses[str(code)] = {"description": "Error", "content": _json("Error")}
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
    return {"application/json": {"schema": {"$ref": REF.format(model=name)}}}


def _path_param(name: str) -> dict[str, Any]:
    return _param(name, "path", required=True)


def _query_param(name: str, description: str) -> dict[str, Any]:
    return _param(name, "query", required=False, description=description)


def _header(name: str, description: str) -> dict[str, Any]:
    return _param(name, "header", required=True, description=description)


def _param(name: str, where: str, *, required: bool, description: str = "") -> dict[str, Any]:
    param = {"name": name, "in": where, "required": required, "schema": {"type": "string"}}
    return {**param, "description": description} if description else param
