"""The services' HTTP APIs, called with the internal token as the signed-in user's shop."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import urllib3
from urllib3.exceptions import HTTPError, ProtocolError

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

TIMEOUT = 10
PAGE = 50
NAMES_AT_ONCE = 200
"""Customers asked for in one call (the jobs service's largest page)."""
POOL = 64
"""Connections kept per service: one per request thread of the web process."""
Params = Mapping[str, str] | Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Answer:
    """A service's answer, read whole."""

    status: int
    body: bytes
    headers: Mapping[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


class Service:
    """One service's internal API: the token, the shop, its error answers as exceptions.

    urllib3 straight (a pool of kept-alive connections to the service's own address): the
    requests library's per-call work (merging settings, hooks, cookies, redirects) cost the staff
    app about half a millisecond of CPU per call. Never a retry: a post is sent once."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base = base_url.rstrip("/")
        self.prefix = urlsplit(self.base).path
        self.http = urllib3.connection_from_url(
            self.base,
            maxsize=POOL,
            block=False,
            retries=False,
            timeout=urllib3.Timeout(connect=TIMEOUT, read=TIMEOUT),
        )
        self.headers = {"Authorization": f"Bearer {token}"}

    def _call(
        self, method: str, path: str, shop_id: str, actor: str = "", **kwargs: Any
    ) -> dict[str, Any]:
        answer = self._raw(method, path, shop_id, actor, **kwargs)
        result: dict[str, Any] = answer.json()
        return result

    def _page(self, path: str, shop_id: str, **params: str | None) -> Page:
        """One page of a list (``limit`` items after the cursor ``after``)."""
        wanted = {k: v for k, v in params.items() if v} | {"limit": str(PAGE)}
        return self._call("GET", path, shop_id, params=wanted)

    def _raw(
        self,
        method: str,
        path: str,
        shop_id: str,
        actor: str = "",
        *,
        params: Params | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        sent = {**self.headers, "X-Shop-Id": shop_id, **({"X-Actor": actor} if actor else {})}
        sent |= headers or {}
        body = None
        if json is not None:
            body = _json_body(json)
            sent["Content-Type"] = "application/json"
        url = self.prefix + path + ("?" + urlencode(params, doseq=True) if params else "")
        try:
            try:
                response = self.http.urlopen(
                    method, url, body=body, headers=sent, redirect=False, preload_content=True
                )
            except ProtocolError:
                if method != "GET":
                    raise
                # A kept-alive connection the service closed just as the request went out (its
                # idle timeout): a read is asked once more, on a fresh connection; never a post.
                response = self.http.urlopen(
                    method, url, headers=sent, redirect=False, preload_content=True
                )
        except HTTPError as exc:
            raise ServiceDown(self.base) from exc
        answer = Answer(response.status, response.data, response.headers)
        if answer.status == 404:
            raise NotFound(path)
        if answer.status in REFUSALS:
            raise _refusal(answer)
        if answer.status >= 400:
            raise ServiceDown(f"{self.base} answered {answer.status}")
        return answer


def _json_body(value: Any) -> bytes:
    return json.dumps(value, allow_nan=False).encode()


REFUSALS = (400, 409, 413, 422)


def _refusal(answer: Answer) -> Refused:
    """The service's reasons, field by field (any body that is not its JSON: a plain reason)."""
    try:
        body = answer.json()
        reasons = [f"{f['field']}: {f['reason']}" for f in body.get("fields", [])]
        return Refused(str(body.get("message") or "refused"), reasons)
    except (ValueError, TypeError, KeyError, AttributeError):
        return Refused(f"refused ({answer.status})", [])


def _id(value: str) -> str:
    return quote(value, safe="")


class HttpInvoicing(Service, Invoicing):
    def invoices(self, shop_id: str, status: str | None, after: str | None = None) -> Page:
        return self._page("/invoices", shop_id, status=status, after=after)

    def invoice(self, shop_id: str, invoice_id: str) -> dict[str, Any]:
        return self._call("GET", f"/invoices/{_id(invoice_id)}", shop_id)

    def send(self, shop_id: str, invoice_id: str, actor: str) -> dict[str, Any]:
        path = f"/invoices/{_id(invoice_id)}/send"
        return self._call("POST", path, shop_id, actor=actor)

    def void(self, shop_id: str, invoice_id: str, actor: str, reason: str) -> dict[str, Any]:
        path = f"/invoices/{_id(invoice_id)}/void"
        return self._call("POST", path, shop_id, actor=actor, json={"reason": reason})

    def replace_pay_link(
        self, shop_id: str, invoice_id: str, actor: str, reason: str, link_number: int | None
    ) -> dict[str, Any]:
        path = f"/invoices/{_id(invoice_id)}/pay-link"
        body = {"reason": reason, "link_number": link_number}
        return self._call("POST", path, shop_id, actor=actor, json=body)

    def timeline(self, shop_id: str, invoice_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._call(
            "GET", f"/invoices/{_id(invoice_id)}/timeline", shop_id
        )["items"]
        return items

    def pdf(self, shop_id: str, invoice_id: str) -> bytes:
        return self._raw("GET", f"/invoices/{_id(invoice_id)}/pdf", shop_id).body

    def search(self, shop_id: str, text: str, after: str | None = None) -> Page:
        return self._page("/invoices", shop_id, q=text, after=after)

    def edit(
        self, shop_id: str, invoice_id: str, change: Change, body: dict[str, Any], actor: str
    ) -> dict[str, Any]:
        method, path = EDITS[change]
        line = _id(str(body.pop("line_id", "")))
        url = f"/invoices/{_id(invoice_id)}/{path.format(line=line)}"
        return self._call(method, url, shop_id, actor=actor, json=body or None)

    def create(self, shop_id: str, body: dict[str, Any], actor: str) -> dict[str, Any]:
        return self._call("POST", "/invoices", shop_id, actor=actor, json=body)

    def from_estimate(self, shop_id: str, estimate_id: str, actor: str) -> dict[str, Any]:
        body = {"estimate_id": estimate_id}
        return self._call("POST", "/invoices/from-estimate", shop_id, actor=actor, json=body)

    def settings(self, shop_id: str) -> dict[str, Any]:
        return self._call("GET", "/settings", shop_id)

    def save_settings(self, shop_id: str, body: dict[str, Any], actor: str) -> dict[str, Any]:
        return self._call("PUT", "/settings", shop_id, actor=actor, json=body)


EDITS: dict[Change, tuple[str, str]] = {
    "bill_to": ("PUT", "bill-to"),
    "service_address": ("PUT", "service-address"),
    "add_line": ("POST", "lines"),
    "change_line": ("PATCH", "lines/{line}"),
    "remove_line": ("DELETE", "lines/{line}"),
    "payment_methods": ("PUT", "payment-methods"),
    "due_date": ("PUT", "due-date"),
    "note": ("POST", "notes"),
}


class HttpJobs(Service, Jobs):
    def customers(self, shop_id: str, text: str | None, after: str | None = None) -> Page:
        return self._page("/customers", shop_id, name=text, after=after)

    def customer(self, shop_id: str, customer_id: str) -> dict[str, Any]:
        return self._call("GET", f"/customers/{_id(customer_id)}", shop_id)

    def names(self, shop_id: str, customer_ids: list[str]) -> dict[str, str]:
        """One call per page of up to NAMES_AT_ONCE customers, not one per customer."""
        found: dict[str, str] = {}
        for start in range(0, len(customer_ids), NAMES_AT_ONCE):
            chunk = customer_ids[start : start + NAMES_AT_ONCE]
            params = [("customer_id", c) for c in chunk] + [("limit", str(len(chunk)))]
            page = self._call("GET", "/customers", shop_id, params=params)
            found |= {c["customer_id"]: c["name"] for c in page["items"]}
        return found

    def add_customer(self, shop_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/customers", shop_id, json=body)

    def locations(self, shop_id: str, customer_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._page(
            f"/customers/{_id(customer_id)}/locations", shop_id
        )["items"]
        return items

    def add_location(self, shop_id: str, customer_id: str, body: dict[str, Any]) -> None:
        self._call("POST", f"/customers/{_id(customer_id)}/locations", shop_id, json=body)

    def jobs(
        self,
        shop_id: str,
        status: str | None,
        technician: str | None,
        customer_id: str | None,
        after: str | None = None,
    ) -> Page:
        return self._page(
            "/jobs",
            shop_id,
            status=status,
            technician=technician,
            customer_id=customer_id,
            after=after,
        )

    def job(self, shop_id: str, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/jobs/{_id(job_id)}", shop_id)

    def add_job(self, shop_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/jobs", shop_id, json=body)

    def work(self, shop_id: str, job_id: str, step: Work, body: dict[str, Any]) -> None:
        self._call("POST", f"/jobs/{_id(job_id)}/{step}", shop_id, json=body or None)

    def approved_estimates(self, shop_id: str, after: str | None = None) -> Page:
        return self._page("/estimates", shop_id, status="approved", after=after)


class HttpPayments(Service, Payments):
    def payments(self, shop_id: str, invoice_id: str) -> list[dict[str, Any]]:
        params = {"invoice_id": invoice_id}
        items: list[dict[str, Any]] = self._call("GET", "/payments", shop_id, params=params)[
            "items"
        ]
        return items

    def refund(
        self, shop_id: str, charge_id: str, cents: int, reason: str, actor: str, key: str
    ) -> dict[str, Any]:
        return self._call(
            "POST",
            f"/payments/{_id(charge_id)}/refunds",
            shop_id,
            actor=actor,
            json={"amount_cents": cents, "reason": reason},
            headers={"Idempotency-Key": key},
        )


class HttpNotifications(Service, Notifications):
    def nudge(self, shop_id: str, invoice_id: str, channels: list[str], actor: str) -> None:
        path = f"/invoices/{_id(invoice_id)}/nudge"
        self._call("POST", path, shop_id, actor=actor, json={"channels": channels})

    def automations(self, shop_id: str) -> dict[str, Any]:
        return self._call("GET", "/settings/automations", shop_id)

    def save_automations(self, shop_id: str, body: dict[str, Any], actor: str) -> dict[str, Any]:
        return self._call("PUT", "/settings/automations", shop_id, actor=actor, json=body)


class HttpReporting(Service, Reporting):
    def aging(self, shop_id: str, as_of: str | None, by_customer: bool) -> dict[str, Any]:
        params = {"group_by": "customer" if by_customer else "total"}
        if as_of:
            params["as_of"] = as_of
        return self._call("GET", "/reports/ar-aging", shop_id, params=params)

    def aging_csv(self, shop_id: str, as_of: str | None) -> tuple[str, bytes]:
        answer = self._raw(
            "GET", "/reports/ar-aging.csv", shop_id, params={"as_of": as_of} if as_of else {}
        )
        name = answer.headers.get("Content-Disposition", "").split("filename=")[-1].strip('"')
        return name or "ar-aging.csv", answer.body

    def aging_invoices(
        self, shop_id: str, as_of: str | None, bucket: int, customer_id: str | None
    ) -> dict[str, Any]:
        params = {"bucket": str(bucket)}
        params |= {"as_of": as_of} if as_of else {}
        params |= {"customer_id": customer_id} if customer_id else {}
        return self._call("GET", "/reports/ar-aging/invoices", shop_id, params=params)
