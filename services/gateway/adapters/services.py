"""The services' HTTP APIs, called with the internal token as the signed-in user's shop."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import requests

from services.gateway.service_layer.ports import Invoicing, NotFound, Refused

TIMEOUT = 10


class HttpInvoicing(Invoicing):
    def __init__(self, base_url: str, token: str) -> None:
        self.base = base_url.rstrip("/")
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def invoices(self, shop_id: str, status: str | None) -> list[dict[str, Any]]:
        params = {"status": status, "limit": 100} if status else {"limit": 100}
        answer = self._call("GET", "/invoices", shop_id, params=params)
        items: list[dict[str, Any]] = answer["items"]
        return items

    def invoice(self, shop_id: str, invoice_id: str) -> dict[str, Any]:
        return self._call("GET", f"/invoices/{quote(invoice_id, safe='')}", shop_id)

    def send(self, shop_id: str, invoice_id: str, actor: str) -> dict[str, Any]:
        path = f"/invoices/{quote(invoice_id, safe='')}/send"
        return self._call("POST", path, shop_id, actor=actor)

    def _call(
        self, method: str, path: str, shop_id: str, actor: str = "", **kwargs: Any
    ) -> dict[str, Any]:
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
        result: dict[str, Any] = answer.json()
        return result
