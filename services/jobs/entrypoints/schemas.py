"""Response models of the jobs API (the request models are the commands). Nested values are the
domain's own dataclasses, which pydantic describes and serialises as they are."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from pydantic import BaseModel

from services.jobs.domain.model import (
    Address,
    Customer,
    Job,
    LaborEntry,
    LineItem,
    ServiceLocation,
)


class CustomerOut(BaseModel):
    customer_id: str
    shop_id: str
    name: str
    email: str | None
    phone: str | None
    customer_type: str
    billing_address: Address
    payment_terms: str
    payment_terms_days: int
    tax_exempt: bool
    tax_exemption_certificate: str | None

    @classmethod
    def of(cls, customer: Customer) -> CustomerOut:
        return cls.model_validate(asdict(customer))


class ServiceLocationOut(BaseModel):
    location_id: str
    customer_id: str
    name: str
    address: Address

    @classmethod
    def of(cls, location: ServiceLocation) -> ServiceLocationOut:
        return cls.model_validate(asdict(location))


class ServiceLocationList(BaseModel):
    items: list[ServiceLocationOut]


class CustomerSummary(BaseModel):
    customer_id: str
    name: str
    customer_type: str
    email: str | None
    phone: str | None
    payment_terms: str
    tax_exempt: bool
    created_at: str


class CustomerPage(BaseModel):
    items: list[CustomerSummary]
    next: str | None


class JobSummary(BaseModel):
    job_id: str
    customer_id: str
    service_location_id: str | None
    status: str
    created_at: str
    closed_at: str | None


class JobPage(BaseModel):
    items: list[JobSummary]
    next: str | None


class JobOut(BaseModel):
    job_id: str
    shop_id: str
    customer_id: str
    service_location_id: str | None
    service_address: Address
    line_items: list[LineItem]
    labor: list[LaborEntry]
    status: str
    closed_at: datetime | None
    version: int

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls.model_validate(asdict(job))
