"""Wiring of the invoicing service."""

from __future__ import annotations

from pathlib import Path

from shared.wiring import ServiceWiring, utc_now

SERVICE = "invoicing"
wiring = ServiceWiring(SERVICE, Path(__file__).parent / "migrations")

__all__ = ["SERVICE", "utc_now", "wiring"]
