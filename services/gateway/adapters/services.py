"""The services' HTTP APIs, called with the internal token as the signed-in user's shop."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import requests

from services.gateway.service_layer.ports import (
    Invoicing,
    NotFound,
    Notifications,
    Refused,
    Reporting,
)

TIMEOUT = 10


class Service:
    """One service's internal API: the token, the shop, its error answers as exceptions."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base = base_url.rstrip("/")
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def _call(
        self, method: str, path: str, shop_id: str, actor: str = "", **kwargs: Any
    ) -> dict[str, Any]:
        answer = self._raw(method, path, shop_id, actor, **kwargs)
        result: dict[str, Any] = answer.json()
        return result

    def _raw(
        self, method: str, path: str, shop_id: str, actor: str = "", **kwargs: Any
    ) -> requests.Response:
        headers = {"X-Shop-Id": shop_id, **({"X-Actor": actor} if actor else {})}
        answer = self.http.request(
            method, self.base + path, headers=headers, timeout=TIMEOUT, **kwargs
        )
        if answer.status_code == 404:
            raise NotFound(path)
        if answer.status_code in (400, 409, 422):
            body = answer.json()
            reasons = [f"{f['field']}: {f['reason']}" for f in body.get("fields", [])]
            raise Refused(body.get("message", "refused"), reasons)
        answer.raise_for_status()
        return answer


def _id(value: str) -> str:
    return quote(value, safe="")


class HttpInvoicing(Service, Invoicing):
    def invoices(self, shop_id: str, status: str | None) -> list[dict[str, Any]]:
        params = {"status": status, "limit": 100} if status else {"limit": 100}
        answer = self._call("GET", "/invoices", shop_id, params=params)
        items: list[dict[str, Any]] = answer["items"]
        return items

    def invoice(self, shop_id: str, invoice_id: str) -> dict[str, Any]:
        return self._call("GET", f"/invoices/{_id(invoice_id)}", shop_id)

    def send(self, shop_id: str, invoice_id: str, actor: str) -> dict[str, Any]:
        path = f"/invoices/{_id(invoice_id)}/send"
        return self._call("POST", path, shop_id, actor=actor)

    def void(self, shop_id: str, invoice_id: str, actor: str, reason: str) -> dict[str, Any]:
        path = f"/invoices/{_id(invoice_id)}/void"
        return self._call("POST", path, shop_id, actor=actor, json={"reason": reason})

    def timeline(self, shop_id: str, invoice_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._call(
            "GET", f"/invoices/{_id(invoice_id)}/timeline", shop_id
        )["items"]
        return items

    def pdf(self, shop_id: str, invoice_id: str) -> bytes:
        return self._raw("GET", f"/invoices/{_id(invoice_id)}/pdf", shop_id).content


class HttpNotifications(Service, Notifications):
    def nudge(self, shop_id: str, invoice_id: str, channels: list[str], actor: str) -> None:
        path = f"/invoices/{_id(invoice_id)}/nudge"
        self._call("POST", path, shop_id, actor=actor, json={"channels": channels})


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
        return name or "ar-aging.csv", answer.content
