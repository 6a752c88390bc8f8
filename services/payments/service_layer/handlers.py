"""Use cases of the payments service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from services.payments.domain.model import PayableInvoice, is_a_real_open
from services.payments.service_layer.unit_of_work import Opened, UnitOfWork
from shared.contracts import InvoiceSent, InvoiceUpdated, InvoiceViewed, InvoiceVoided
from shared.envelope import Envelope

SOURCE = "/services/payments"
Clock = Callable[[], datetime]


class TenantMismatch(Exception):
    """An event names one shop in its body and another in its envelope: never processed."""


def when_invoicing_tells_keep_copy(envelope: Envelope, uow: UnitOfWork) -> None:
    """InvoiceSent, a correction of a sent invoice, or InvoiceVoided: the copy the pay page shows,
    right whatever order they come in."""
    event = envelope.event
    assert isinstance(event, InvoiceSent | InvoiceUpdated | InvoiceVoided)
    if event.shop_id != envelope.tenant:
        raise TenantMismatch(f"{envelope.type} for {event.shop_id} came as {envelope.tenant}")
    invoice = uow.invoices.get(event.invoice_id) or PayableInvoice(event.invoice_id, event.shop_id)
    if invoice.shop_id != event.shop_id:
        raise TenantMismatch(f"{envelope.type} names another shop's invoice")
    if isinstance(event, InvoiceSent):
        invoice.keep_sent(event)
    elif isinstance(event, InvoiceVoided):
        invoice.keep_voided(event)
    elif not invoice.keep_correction(event):
        return
    uow.invoices.save(invoice)


def open_pay_link(
    token: str, method: str, user_agent: str, uow: UnitOfWork, clock: Clock
) -> PayableInvoice | None:
    """The customer opens the link: the first real open publishes InvoiceViewed (once, even
    when two opens race); link previews and HEAD requests are not counted as views."""
    now = clock()
    with uow:
        opened = uow.invoices.open(token, is_a_real_open(method, user_agent), now)
        if opened is None:
            return None
        if opened.first_view:
            _publish_viewed(opened, now, uow)
        uow.commit()
    return opened.invoice


def _publish_viewed(opened: Opened, now: datetime, uow: UnitOfWork) -> None:
    invoice = opened.invoice
    event = InvoiceViewed(invoice_id=invoice.invoice_id, shop_id=invoice.shop_id, viewed_at=now)
    envelope = Envelope(event=event, tenant=invoice.shop_id, source=SOURCE)
    uow.publish(f"viewed:{invoice.invoice_id}", 1, envelope)
