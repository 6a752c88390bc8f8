"""Who may do what in the staff app. Standard library only.

owner: everything, settings and refunds included; office: invoices, customers, jobs, reports;
technician: their own jobs only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

Role = Literal["owner", "office", "technician"]
Area = Literal["invoices", "customers", "jobs", "reports", "settings", "refunds", "own_jobs"]
ROLES: tuple[Role, ...] = ("owner", "office", "technician")
ALLOWED: dict[Role, frozenset[Area]] = {
    "owner": frozenset(
        {"invoices", "customers", "jobs", "reports", "settings", "refunds", "own_jobs"}
    ),
    "office": frozenset({"invoices", "customers", "jobs", "reports", "own_jobs"}),
    "technician": frozenset({"own_jobs"}),
}


@dataclass(frozen=True)
class StaffUser:
    user_id: str
    shop_id: str
    email: str
    name: str
    role: Role

    def may(self, area: Area) -> bool:
        return area in ALLOWED[self.role]


def normal_email(email: str) -> str:
    return email.strip().lower()


def new_user(shop_id: str, email: str, name: str, role: Role) -> StaffUser:
    return StaffUser(str(uuid.uuid4()), shop_id, normal_email(email), name.strip(), role)
