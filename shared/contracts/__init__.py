"""Event contracts (the models) and their registry."""

from shared.contracts.base import Contract, Event
from shared.contracts.events import (
    ALL_EVENTS,
    EVENTS_BY_TYPE,
    Address,
    CustomerSnapshot,
    InvoiceDrafted,
    InvoiceLine,
    InvoiceSent,
    InvoiceTotals,
    InvoiceViewed,
    JobClosed,
    JobLineItem,
    LaborEntry,
    PaymentReceived,
)

__all__ = [
    "ALL_EVENTS",
    "EVENTS_BY_TYPE",
    "Address",
    "Contract",
    "CustomerSnapshot",
    "Event",
    "InvoiceDrafted",
    "InvoiceLine",
    "InvoiceSent",
    "InvoiceTotals",
    "InvoiceViewed",
    "JobClosed",
    "JobLineItem",
    "LaborEntry",
    "PaymentReceived",
]
