"""Use cases of the invoicing service, named for what they do in the shop."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from services.invoicing.domain.model import (
    Edit,
    Invoice,
    LineInput,
    TenantMismatch,
    UnknownInvoice,
    invoice_id_for_estimate,
    invoice_id_for_job,
)
from services.invoicing.domain.review import Review, review
from services.invoicing.domain.settings import ShopSettings
from services.invoicing.service_layer.unit_of_work import UnitOfWork
from shared.contracts import (
    Address,
    CustomerSnapshot,
    EstimateApproved,
    JobClosed,
    JobReopened,
    ShopBranding,
)
from shared.envelope import Envelope
from shared.eventstore import retrying
from shared.invoice_pdf import PdfInvoice
from shared.invoice_pdf import render as render_pdf

SOURCE = "/services/invoicing"
Clock = Callable[[], datetime]
PAY_TOKEN_BYTES = 16
"""128 bits from the OS's CSPRNG: a pay link cannot be guessed."""


class UnknownEstimate(Exception):
    """No approved estimate with that id in this shop (or its approval has not arrived yet)."""


# --- from other services ------------------------------------------------------------------------


def when_job_is_closed_draft_invoice(envelope: Envelope, uow: UnitOfWork, clock: Clock) -> None:
    """A closed job becomes a draft invoice in the office's queue (once, however often told)."""
    job = envelope.event
    assert isinstance(job, JobClosed)
    _same_shop(job.shop_id, envelope)
    invoice = uow.invoices.get(invoice_id_for_job(job.shop_id, job.job_id))
    if not invoice.is_news(job):
        return
    invoice.draft_from_closed_job(job, clock(), uow.settings.get(job.shop_id).card_max_cents)
    uow.invoices.save(invoice, envelope, SOURCE)


def when_job_is_reopened_withdraw_draft(envelope: Envelope, uow: UnitOfWork, clock: Clock) -> None:
    """A reopened job's draft leaves the queue until the job closes again (once, in any order
    with the JobClosed events)."""
    job = envelope.event
    assert isinstance(job, JobReopened)
    _same_shop(job.shop_id, envelope)
    invoice = uow.invoices.get(invoice_id_for_job(job.shop_id, job.job_id))
    if invoice.withdraw_for_reopened_job(job, clock()):
        uow.invoices.save(invoice, envelope, SOURCE)


def when_estimate_is_approved_keep_it(envelope: Envelope, uow: UnitOfWork) -> None:
    """Keep invoicing's copy, so + Invoice never calls jobs."""
    estimate = envelope.event
    assert isinstance(estimate, EstimateApproved)
    _same_shop(estimate.shop_id, envelope)
    uow.estimates.add(estimate)


def when_payments_report_record_it(envelope: Envelope, uow: UnitOfWork) -> Invoice | None:
    """Viewed, payment initiated / received / failed, refund issued: recorded in the invoice's
    history in whatever order they come (even before this invoice was sent here). Returns the
    invoice when the fact changed it (None for a fact it already knew)."""
    fact = envelope.event
    shop_id = getattr(fact, "shop_id", "")
    _same_shop(shop_id, envelope)
    invoice = uow.invoices.get(getattr(fact, "invoice_id", ""))
    if invoice.shop_id and invoice.shop_id != shop_id:
        raise TenantMismatch(f"{envelope.type} for shop {shop_id} names another shop's invoice")
    if not invoice.record(fact):
        return None
    uow.invoices.save(invoice, envelope, SOURCE)
    return invoice


def _same_shop(shop_id: str, envelope: Envelope) -> None:
    if shop_id != envelope.tenant:
        raise TenantMismatch(
            f"{envelope.type} for shop {shop_id} arrived as tenant {envelope.tenant}"
        )


# --- staff commands -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """Who asks, for which shop, and the request's correlation id."""

    shop_id: str
    by: str
    correlation_id: str = ""


def draft_from_estimate(
    req: Request, estimate_id: str, again: bool, uow: UnitOfWork, clock: Clock
) -> tuple[Invoice, bool]:
    """+ Invoice: the first call makes the estimate's invoice, later calls return it (False:
    not made now), unless staff ask ``again`` for another one."""

    def once() -> tuple[Invoice, bool]:
        with uow:
            estimate = uow.estimates.get(req.shop_id, estimate_id)
            if estimate is None:
                raise UnknownEstimate(estimate_id)
            invoice = _estimate_invoice(uow, req.shop_id, estimate_id, again)
            if invoice.version > 0:
                return invoice, False
            invoice.draft_from_estimate(estimate, _edit(uow, req, clock))
            _save(uow, invoice, req)
        return invoice, True

    return retrying(once)


def _estimate_invoice(uow: UnitOfWork, shop_id: str, estimate_id: str, again: bool) -> Invoice:
    """The estimate's first invoice; with ``again`` the first attempt not made yet."""
    attempt = 1
    while True:
        invoice = uow.invoices.get(invoice_id_for_estimate(shop_id, estimate_id, attempt))
        if invoice.version == 0 or not again:
            return invoice
        attempt += 1


def draft_from_scratch(
    req: Request,
    invoice_id: str,
    customer: CustomerSnapshot,
    service_address: Address,
    lines: list[LineInput],
    uow: UnitOfWork,
    clock: Clock,
) -> Invoice:
    with uow:
        invoice = uow.invoices.get(invoice_id)
        invoice.draft_from_scratch(
            req.shop_id, customer, service_address, lines, _edit(uow, req, clock)
        )
        _save(uow, invoice, req)
    return invoice


def edit_invoice(
    req: Request,
    invoice_id: str,
    change: Callable[[Invoice, Edit], None],
    uow: UnitOfWork,
    clock: Clock,
) -> Invoice:
    """Any edit of a draft or correction of a sent invoice: one event, retried on a lost race."""

    def once() -> Invoice:
        with uow:
            invoice = _invoice(uow, req.shop_id, invoice_id)
            change(invoice, _edit(uow, req, clock))
            _save(uow, invoice, req)
        return invoice

    return retrying(once)


def send_invoice(
    req: Request, invoice_id: str, pay_base_url: str, uow: UnitOfWork, clock: Clock
) -> Invoice:
    """Review, number (gapless: the number is taken in this transaction), fix the due date,
    create the pay link and publish InvoiceSent."""

    def once() -> Invoice:
        with uow:
            invoice = _invoice(uow, req.shop_id, invoice_id)
            settings = uow.settings.get(req.shop_id)
            now = clock()
            found = review(
                invoice, settings.today(now), settings.card_max_cents, settings.max_invoice_cents
            )
            token = secrets.token_urlsafe(PAY_TOKEN_BYTES)
            number = uow.numbers.next(req.shop_id) if found.can_send and not invoice.is_sent else 0
            invoice.send(
                number=settings.invoice_number(number, now),
                pay_token=token,
                pay_url=pay_link(pay_base_url, token),
                today=settings.today(now),
                branding=branding_of(settings),
                by=req.by,
                now=now,
                problems=found.errors,
            )
            _save(uow, invoice, req)
        return invoice

    return retrying(once)


def void_invoice(
    req: Request, invoice_id: str, reason: str, uow: UnitOfWork, clock: Clock
) -> Invoice:
    def once() -> Invoice:
        with uow:
            invoice = _invoice(uow, req.shop_id, invoice_id)
            invoice.void(req.by, clock(), reason)
            _save(uow, invoice, req)
        return invoice

    return retrying(once)


def replace_pay_link(
    req: Request,
    invoice_id: str,
    reason: str,
    pay_base_url: str,
    uow: UnitOfWork,
    clock: Clock,
    revoking: int | None = None,
) -> Invoice:
    """Revoke the invoice's pay link and issue a fresh one (128 new random bits):
    PayLinkReplaced tells payments (the old link stops working) and notifications (later
    messages carry the new link). With ``revoking`` (the link's number) a repeated request
    replaces that link once."""

    def once() -> Invoice:
        with uow:
            invoice = _invoice(uow, req.shop_id, invoice_id)
            token = secrets.token_urlsafe(PAY_TOKEN_BYTES)
            invoice.replace_pay_link(
                pay_token=token,
                pay_url=pay_link(pay_base_url, token),
                by=req.by,
                now=clock(),
                reason=reason,
                revoking=revoking,
            )
            _save(uow, invoice, req)
        return invoice

    return retrying(once)


def pay_link(pay_base_url: str, token: str) -> str:
    return f"{pay_base_url.rstrip('/')}/p/{token}"


def review_of(invoice: Invoice, settings: ShopSettings, now: datetime) -> Review:
    return review(invoice, settings.today(now), settings.card_max_cents, settings.max_invoice_cents)


def pdf_of(invoice: Invoice, settings: ShopSettings, now: datetime) -> bytes:
    """The invoice's PDF as it stands (the same renderer payments and notifications use)."""
    assert invoice.customer is not None and invoice.service_address is not None
    today, money = settings.today(now), invoice.balance()
    page = PdfInvoice(
        number=invoice.number,
        issued=invoice.sent_at,
        due=invoice.proposed_due_date(today),
        status=invoice.status_on(today).value,
        currency=invoice.currency,
        customer_name=invoice.customer.name,
        bill_to=invoice.customer.billing_address,
        service_address=invoice.service_address,
        lines=invoice.lines,
        totals=invoice.totals(),
        paid_cents=money.paid_cents - money.refunded_cents,
        balance_cents=money.balance_cents,
        pay_url=invoice.pay_url,
    )
    return render_pdf(page, branding_of(settings))


def branding_of(settings: ShopSettings) -> ShopBranding:
    return ShopBranding(
        name=settings.display_name,
        logo_url=settings.logo_url,
        color=settings.color,
        time_zone=settings.time_zone,
    )


def _invoice(uow: UnitOfWork, shop_id: str, invoice_id: str) -> Invoice:
    """The shop's invoice; another shop's is as unknown as one that does not exist."""
    invoice = uow.invoices.get(invoice_id)
    if invoice.version == 0 or invoice.shop_id != shop_id or invoice.customer is None:
        raise UnknownInvoice(invoice_id)
    return invoice


def _edit(uow: UnitOfWork, req: Request, clock: Clock) -> Edit:
    settings = uow.settings.get(req.shop_id)
    return Edit(req.by, clock(), settings.card_max_cents, settings.max_invoice_cents)


def _save(uow: UnitOfWork, invoice: Invoice, req: Request) -> None:
    uow.invoices.save(invoice, None, SOURCE, req.correlation_id)
    uow.commit()
