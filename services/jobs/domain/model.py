"""The job as the shop knows it: a customer, a place, what the technician used and how long it took.

Standard library only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class JobStatus(StrEnum):
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"
    CANCELED = "canceled"


class CustomerType(StrEnum):
    """Who the customer is; reminder policies differ (issue 6)."""

    RESIDENTIAL = "residential"
    COMMERCIAL = "commercial"
    PROPERTY_MANAGER = "property_manager"


class PaymentTerms(StrEnum):
    DUE_ON_RECEIPT = "due_on_receipt"
    NET_15 = "net_15"
    NET_30 = "net_30"
    NET_45 = "net_45"
    NET_60 = "net_60"
    CUSTOM = "custom"


NAMED_TERMS_DAYS = {
    PaymentTerms.DUE_ON_RECEIPT: 0,
    PaymentTerms.NET_15: 15,
    PaymentTerms.NET_30: 30,
    PaymentTerms.NET_45: 45,
    PaymentTerms.NET_60: 60,
}


def resolve_payment_terms(terms: PaymentTerms | None, days: int | None) -> tuple[PaymentTerms, int]:
    """Named terms fix the days; "custom" needs them; days alone pick the matching name."""
    if terms is None:
        days = 0 if days is None else days
        named = {d: t for t, d in NAMED_TERMS_DAYS.items()}
        return named.get(days, PaymentTerms.CUSTOM), days
    if terms is PaymentTerms.CUSTOM:
        if days is None:
            raise ValueError("required when payment_terms is custom")
        return terms, days
    if days is not None and days != NAMED_TERMS_DAYS[terms]:
        raise ValueError(f"{terms.value} means {NAMED_TERMS_DAYS[terms]} days, not {days}")
    return terms, NAMED_TERMS_DAYS[terms]


class JobCanceled(Exception):
    """A canceled job is not worked, closed or billed."""


class JobAlreadyClosed(Exception):
    """A job closes once; closing it again would bill the customer twice."""


class InvoiceAlreadySent(Exception):
    """The job's invoice went to the customer: the job can no longer be reopened."""


class JobNotClosed(Exception):
    """Only a closed job can be reopened."""


class JobTooLarge(Exception):
    """More lines than one invoice can carry."""


class UnknownCustomer(Exception):
    pass


class TenantMismatch(Exception):
    """An event whose body names another shop than its envelope: it can never be applied."""


class UnknownJob(Exception):
    pass


class UnknownServiceLocation(Exception):
    """Not one of this customer's service locations (or not in this shop)."""


@dataclass(frozen=True)
class Address:
    line1: str
    city: str
    region: str
    postal_code: str
    line2: str = ""
    country: str = "US"


@dataclass(frozen=True)
class Customer:
    customer_id: str
    shop_id: str
    name: str
    billing_address: Address
    payment_terms_days: int
    email: str | None = None
    phone: str | None = None
    tax_exempt: bool = False
    tax_exemption_certificate: str | None = None
    payment_terms: PaymentTerms = PaymentTerms.DUE_ON_RECEIPT
    customer_type: CustomerType = CustomerType.RESIDENTIAL


@dataclass(frozen=True)
class ServiceLocation:
    """Where work is done for a customer; a property manager has many."""

    location_id: str
    shop_id: str
    customer_id: str
    name: str
    address: Address


@dataclass(frozen=True)
class LineItem:
    line_id: str
    description: str
    quantity: Decimal
    unit_price_cents: int
    taxable: bool
    tax_rate_percent: Decimal
    added_by: str | None = None
    """Who added it in the field (None: it came with the job)."""
    added_at: datetime | None = None
    pricebook_item_id: str | None = None
    tax_rate_id: str | None = None
    tax_rate_name: str | None = None


@dataclass(frozen=True)
class LaborEntry:
    """Time on the job, billed by the hour or as a flat amount (``flat_amount_cents``)."""

    entry_id: str
    technician: str
    hours: Decimal
    hourly_rate_cents: int
    taxable: bool = False
    tax_rate_percent: Decimal = Decimal(0)
    added_by: str | None = None
    added_at: datetime | None = None
    flat_amount_cents: int | None = None
    tax_rate_id: str | None = None
    tax_rate_name: str | None = None


@dataclass(frozen=True)
class Note:
    """Something the office or a technician wrote on the job ("gate code 4411")."""

    note_id: str
    author: str
    text: str
    added_at: datetime


@dataclass
class Job:
    job_id: str
    shop_id: str
    customer_id: str
    service_address: Address
    line_items: list[LineItem] = field(default_factory=list)
    labor: list[LaborEntry] = field(default_factory=list)
    status: JobStatus = JobStatus.SCHEDULED
    closed_at: datetime | None = None
    version: int = 1
    service_location_id: str | None = None
    technicians: list[str] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    closings: int = 0
    """How many times the job has been closed; each closing is one JobClosed."""
    invoice_sent: bool = False
    """Invoicing sent the job's invoice (learned from InvoiceSent)."""

    def start(self) -> None:
        """The technician is on site."""
        self._must_be_open()
        self._become(JobStatus.IN_PROGRESS)

    def cancel(self) -> None:
        self._must_be_open()
        self._become(JobStatus.CANCELED)

    def add_line_item(self, item: LineItem) -> None:
        """A technician adds what was used, on site."""
        self._must_be_open()
        self.line_items.append(item)
        self.version += 1

    def add_labor(self, entry: LaborEntry) -> None:
        self._must_be_open()
        self.labor.append(entry)
        self.version += 1

    def assign(self, technicians: list[str]) -> None:
        """Who works the job; technicians see their own jobs."""
        self._must_be_open()
        self.technicians = list(dict.fromkeys(technicians))
        self.version += 1

    def add_note(self, note: Note) -> None:
        """Notes may be added at any time, even after the job is closed or canceled."""
        self.notes.append(note)
        self.version += 1

    def close(self, now: datetime) -> None:
        self._must_be_open()
        self._become(JobStatus.CLOSED)
        self.closed_at = now
        self.closings += 1

    def reopen(self) -> None:
        """Back to in progress, to fix what was billed; refused once the invoice was sent."""
        if self.status is not JobStatus.CLOSED:
            raise JobNotClosed(f"job {self.job_id} is {self.status.value}, not closed")
        if self.invoice_sent:
            raise InvoiceAlreadySent(
                f"the invoice for job {self.job_id} has been sent: correct the invoice instead"
            )
        self._become(JobStatus.IN_PROGRESS)
        self.closed_at = None

    def mark_invoice_sent(self) -> bool:
        """Remember that the invoice went out; False if already known (a redelivery)."""
        if self.invoice_sent:
            return False
        self.invoice_sent = True
        self.version += 1
        return True

    def _must_be_open(self) -> None:
        if self.status is JobStatus.CLOSED:
            raise JobAlreadyClosed(f"job {self.job_id} is already closed")
        if self.status is JobStatus.CANCELED:
            raise JobCanceled(f"job {self.job_id} is canceled")

    def _become(self, status: JobStatus) -> None:
        self.status = status
        self.version += 1
