"""Response models of the jobs API (the request models are the commands). Nested values are the
domain's own dataclasses, which pydantic describes and serialises as they are."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel

from services.jobs.domain.estimate import Estimate
from services.jobs.domain.model import (
    Address,
    Customer,
    Job,
    LaborEntry,
    LineItem,
    Note,
    ServiceLocation,
)
from services.jobs.domain.pricebook import PricebookItem, TaxRate


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
    technicians: list[str]
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
    technicians: list[str]
    notes: list[Note]
    status: str
    closed_at: datetime | None
    closings: int
    invoice_sent: bool
    version: int

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls.model_validate(asdict(job))


class TaxRateOut(BaseModel):
    tax_rate_id: str
    name: str
    percent: Decimal
    is_default: bool

    @classmethod
    def of(cls, rate: TaxRate) -> TaxRateOut:
        return cls.model_validate(asdict(rate))


class TaxRateList(BaseModel):
    items: list[TaxRateOut]


class PricebookItemOut(BaseModel):
    item_id: str
    name: str
    description: str
    sku: str | None
    unit_price_cents: int
    taxable: bool
    tax_rate_id: str | None
    active: bool

    @classmethod
    def of(cls, item: PricebookItem) -> PricebookItemOut:
        return cls.model_validate(asdict(item))


class PricebookPage(BaseModel):
    items: list[PricebookItemOut]
    next: str | None


class EstimateOut(BaseModel):
    estimate_id: str
    shop_id: str
    customer_id: str
    service_location_id: str | None
    service_address: Address
    line_items: list[LineItem]
    labor: list[LaborEntry]
    notes: str
    status: str
    sent_at: datetime | None
    decided_at: datetime | None
    approved_by: str | None
    decline_reason: str | None
    version: int

    @classmethod
    def of(cls, estimate: Estimate) -> EstimateOut:
        return cls.model_validate(asdict(estimate))


class EstimateSummary(BaseModel):
    estimate_id: str
    customer_id: str
    service_location_id: str | None
    status: str
    created_at: str
    sent_at: str | None
    decided_at: str | None


class EstimatePage(BaseModel):
    items: list[EstimateSummary]
    next: str | None
