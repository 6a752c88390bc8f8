"""Reading the JSON error bodies of the Flask test client."""

from __future__ import annotations

from typing import Any


def body_of(response: Any) -> dict[str, Any]:
    assert response.is_json, response.data
    data: dict[str, Any] = response.get_json()
    return data


def fields(response: Any) -> dict[str, str]:
    return {f["field"]: f["reason"] for f in body_of(response)["fields"]}
