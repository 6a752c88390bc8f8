"""Read-side answers of the jobs service, as JSON-ready dicts."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from services.jobs.domain.model import Customer, Job


def customer_view(customer: Customer) -> dict[str, Any]:
    return asdict(customer)


def job_view(job: Job) -> dict[str, Any]:
    view = asdict(job)
    view["status"] = job.status.value
    view["closed_at"] = job.closed_at.isoformat() if job.closed_at else None
    for item in view["line_items"]:
        item["quantity"] = str(item["quantity"])
        item["tax_rate_percent"] = str(item["tax_rate_percent"])
    for entry in view["labor"]:
        entry["hours"] = str(entry["hours"])
        entry["tax_rate_percent"] = str(entry["tax_rate_percent"])
    return view
