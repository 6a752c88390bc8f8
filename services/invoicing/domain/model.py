"""The invoice aggregate, event-sourced: its history is its truth; state is folded from events.

Its events are the published contracts (shared.contracts), which are plain frozen value objects."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from services.invoicing.domain.totals import LineAmounts, invoice_totals, line_amounts
from shared.contracts import (
    Event,
    InvoiceDrafted,
    InvoiceDraftWithdrawn,
    InvoiceLine,
    InvoiceTotals,
    JobClosed,
    JobLineItem,
    JobReopened,
    LaborEntry,
)

LineKind = Literal["item", "labor"]
INVOICE_NAMESPACE = uuid.UUID("5b0f8c8e-7a51-4a4f-9d0e-6f1f3c0f2a11")


class InvoiceStatus(StrEnum):
    NONE = "none"
    DRAFT = "draft"
    WITHDRAWN = "withdrawn"
    """The job was reopened: out of the queue until it closes again."""


class InvoiceAlreadyExists(Exception):
    pass


class TenantMismatch(Exception):
    """An event names one shop in its body and another in its envelope: never processed."""


def invoice_id_for_job(shop_id: str, job_id: str) -> str:
    """One invoice per closed job: the id is derived from the shop and the job, so a replay
    cannot make two."""
    return str(uuid.uuid5(INVOICE_NAMESPACE, f"job:{shop_id}:{job_id}"))


@dataclass
class Invoice:
    invoice_id: str
    version: int = 0
    status: InvoiceStatus = InvoiceStatus.NONE
    shop_id: str = ""
    total_cents: int = 0
    closing: int = 0
    """The job closing the draft was made from (0: none yet)."""
    reopened: int = 0
    """The latest job closing known to be reopened: no closing up to it may be drafted."""
    pending: list[Event] = field(default_factory=list)

    @classmethod
    def from_history(cls, invoice_id: str, history: list[Event]) -> Invoice:
        invoice = cls(invoice_id)
        for event in history:
            invoice._apply(event)
            invoice.version += 1
        return invoice

    def is_news(self, job: JobClosed) -> bool:
        """A closing this invoice has not been drafted from yet, while it can still be redrafted.

        Closings are numbered, so a redelivered or late JobClosed is recognised whatever order
        the JobClosed and JobReopened topics deliver in."""
        return self._before_sending() and job.closing > max(self.closing, self.reopened)

    def _before_sending(self) -> bool:
        return self.status in (InvoiceStatus.NONE, InvoiceStatus.DRAFT, InvoiceStatus.WITHDRAWN)

    def draft_from_closed_job(self, job: JobClosed, now: datetime) -> None:
        """Draft (or, after the job was reopened and closed again, redraft) from the job."""
        if not self.is_news(job):
            raise InvoiceAlreadyExists(self.invoice_id)
        exempt = job.customer.tax_exempt
        lines = [_item_line(item, exempt) for item in job.line_items]
        lines += [_labor_line(entry, exempt) for entry in job.labor]
        self._record(
            InvoiceDrafted(
                invoice_id=self.invoice_id,
                shop_id=job.shop_id,
                source="job",
                job_id=job.job_id,
                drafted_at=now,
                currency=job.currency,
                customer=job.customer,
                service_address=job.service_address,
                lines=lines,
                totals=_totals(lines),
                closing=job.closing,
            )
        )

    def withdraw_for_reopened_job(self, job: JobReopened, now: datetime) -> bool:
        """Take the draft out of the queue if it was made from the closing now reopened (or an
        earlier one). Recorded even before that closing's JobClosed arrives (topics are not
        ordered with each other), so it is never drafted. False when nothing changes: already
        known, a later closing already drafted, or the invoice went out."""
        k = job.reopens_closing
        if not self._before_sending() or k <= self.reopened or k < self.closing:
            return False
        self._record(
            InvoiceDraftWithdrawn(
                invoice_id=self.invoice_id,
                shop_id=job.shop_id,
                job_id=job.job_id,
                withdrawn_at=now,
                reopens_closing=k,
                reason=f"job reopened{': ' + job.reason if job.reason else ''}",
            )
        )
        return True

    def _record(self, event: Event) -> None:
        self._apply(event)
        self.pending.append(event)

    def _apply(self, event: Event) -> None:
        if isinstance(event, InvoiceDrafted):
            self.status = InvoiceStatus.DRAFT
            self.shop_id = event.shop_id
            self.total_cents = event.totals.total_cents
            self.closing = event.closing or 1
        elif isinstance(event, InvoiceDraftWithdrawn):
            self.status = InvoiceStatus.WITHDRAWN
            self.shop_id = event.shop_id
            self.reopened = max(self.reopened, event.reopens_closing)


def _item_line(item: JobLineItem, customer_exempt: bool) -> InvoiceLine:
    return _line(
        item.line_id,
        "item",
        item.description,
        item.quantity,
        item.unit_price_cents,
        taxable=item.taxable and not customer_exempt,
        rate=item.tax_rate_percent,
    )


def _labor_line(entry: LaborEntry, customer_exempt: bool) -> InvoiceLine:
    """Hours × rate, or one flat charge that still says how long the work took."""
    if entry.flat_amount_cents is not None:
        description = f"Labor — {entry.technician} ({entry.hours.normalize():f} h, flat rate)"
        quantity, price = Decimal(1), entry.flat_amount_cents
    else:
        description = f"Labor — {entry.technician}"
        quantity, price = entry.hours, entry.hourly_rate_cents
    return _line(
        entry.entry_id,
        "labor",
        description,
        quantity,
        price,
        taxable=entry.taxable and not customer_exempt,
        rate=entry.tax_rate_percent,
    )


def _line(
    line_id: str,
    kind: LineKind,
    description: str,
    quantity: Decimal,
    unit_price_cents: int,
    *,
    taxable: bool,
    rate: Decimal,
) -> InvoiceLine:
    amounts = line_amounts(quantity, unit_price_cents, taxable, rate)
    return InvoiceLine(
        line_id=line_id,
        kind=kind,
        description=description,
        quantity=quantity,
        unit_price_cents=unit_price_cents,
        taxable=taxable,
        tax_rate_percent=rate,
        subtotal_cents=amounts.subtotal_cents,
        tax_cents=amounts.tax_cents,
        total_cents=amounts.total_cents,
    )


def _totals(lines: list[InvoiceLine]) -> InvoiceTotals:
    totals = invoice_totals(LineAmounts(line.subtotal_cents, line.tax_cents) for line in lines)
    return InvoiceTotals(
        subtotal_cents=totals.subtotal_cents,
        tax_cents=totals.tax_cents,
        total_cents=totals.total_cents,
    )
