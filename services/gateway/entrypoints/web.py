"""What every page module of the staff app shares: the services it calls (``Deps``), the signed-in
user, role checks, and reading a form into what a service takes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache, wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlencode

from flask import Flask, abort, g, request
from flask.templating import Environment

from services.gateway.domain.access import Area, StaffUser
from services.gateway.service_layer.ports import (
    Invoicing,
    Jobs,
    Notifications,
    Passwords,
    Payments,
    Refused,
    Reporting,
    Users,
)
from shared.money import BadAmount, parse_dollars

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Deps:
    """Factories of what the app uses (called per request: nothing connects at import)."""

    users: Callable[[], Users]
    passwords: Callable[[], Passwords]
    invoicing: Callable[[], Invoicing]
    notifications: Callable[[], Notifications]
    reporting: Callable[[], Reporting]
    jobs: Callable[[], Jobs]
    payments: Callable[[], Payments]
    ready: Callable[[], bool]
    live: Callable[[str, int | None], Iterator[str]]
    """The shop's change stream (server-sent events text) after a position (None: from now)."""
    inbox_url: str = ""
    """Development only: the captured SMS/email inbox, linked from the menu ('' = no link)."""


def me() -> StaffUser:
    return cast(StaffUser, g.user)


def requires(area: Area) -> Callable[[F], F]:
    def wrap(view: F) -> F:
        @wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if not me().may(area):
                abort(403)
            return view(*args, **kwargs)

        return cast(F, checked)

    return wrap


class FormError(Exception):
    """A field of a staff form that cannot be read; shown beside the form, nothing sent."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.reasons = [f"{field}: {reason}"]


REFUSED = (Refused, FormError)
"""What a form's post may meet: the service's refusal or a field the form could not read."""


def reasons(exc: Refused | FormError) -> list[str]:
    """Why, field by field (the message itself when the service named no field)."""
    return exc.reasons or [str(exc)]


def text(name: str, limit: int = 500, required: bool = False) -> str:
    value = request.form.get(name, "").strip()
    if required and not value:
        raise FormError(name, "is required")
    if len(value) > limit:
        raise FormError(name, f"must be at most {limit} characters")
    return value


def cents(name: str, required: bool = True) -> int | None:
    """A dollar amount typed into the form, as cents."""
    value = request.form.get(name, "").strip()
    if not value and not required:
        return None
    try:
        return parse_dollars(value)
    except BadAmount as exc:
        raise FormError(name, str(exc)) from exc


def address(prefix: str = "") -> dict[str, str]:
    """An address block of a form (fields line1, line2, city, region, postal_code, country)."""
    found = {
        part: text(prefix + part, 200, required=part != "line2")
        for part in ("line1", "line2", "city", "region", "postal_code")
    }
    if country := text(prefix + "country", 2).upper():
        found["country"] = country  # kept as it was unless changed (the service checks it)
    return {k: v for k, v in found.items() if v or k != "line2"}


def names_of(deps: Deps, rows: list[dict[str, Any]]) -> dict[str, str]:
    """The names of the customers these rows name (asked for all at once)."""
    wanted = sorted({row["customer_id"] for row in rows})
    found = deps.jobs().names(me().shop_id, wanted) if wanted else {}
    return {customer_id: found.get(customer_id, "(removed customer)") for customer_id in wanted}


def next_page(cursor: str) -> str:
    """This page's address with the next page's cursor (the other filters kept)."""
    args = {k: v for k, v in request.args.items() if k != "after"}
    return request.path + "?" + urlencode({**args, "after": cursor})


def remembered_url_for(app: Flask) -> Callable[..., str]:
    """The templates' ``url_for``, remembered: a page builds the same addresses again and again
    (the menu, the tabs, a link per row), each a whole werkzeug build (a quarter of a page's
    rendering). An address depends only on the endpoint, its values and where the app is
    reached (mount point, host, scheme), which together are the key; anything unhashable is
    built afresh."""

    @lru_cache(maxsize=4096)
    def built(_where: tuple[str, str, str], endpoint: str, values: tuple[Any, ...]) -> str:
        return app.url_for(endpoint, **dict(values))

    def url_for(endpoint: str, **values: Any) -> str:
        environ = request.environ
        where = (
            environ.get("SCRIPT_NAME", ""),
            environ.get("HTTP_HOST", ""),
            environ.get("wsgi.url_scheme", ""),
        )
        try:
            return built(where, endpoint, tuple(values.items()))  # their order: the query's
        except TypeError:  # a value that cannot be a key (a list)
            return app.url_for(endpoint, **values)

    return url_for


class PageEnvironment(Environment):
    """The staff app's Jinja environment: ``row.name`` on a service's JSON object (a dict) reads
    the key straight away. Jinja tries the attribute first and falls back to the key, which for
    a dict means raising and catching an AttributeError on every cell of every row (a sixth of
    a list page's rendering). A dict's methods (``names.get``) are reached as before unless the
    dict has a key of that name; templates write ``page['items']`` for the one that does."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)
