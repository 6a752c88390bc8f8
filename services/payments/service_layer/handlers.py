"""Use cases of the payments service."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.payments.domain.ledger import (
    Charge,
    ChargeStatus,
    Ledger,
    PaymentRefused,
    check_payable,
    check_payment,
    check_refund,
)
from services.payments.domain.model import PayableInvoice, is_a_real_open
from services.payments.service_layer.gateway import (
    BankDebit,
    CardDeclined,
    Mandate,
    PaymentGateway,
    SavedCard,
    StripeEvent,
)
from services.payments.service_layer.unit_of_work import Opened, UnitOfWork
from shared.contracts import (
    Event,
    InvoiceSent,
    InvoiceUpdated,
    InvoiceViewed,
    InvoiceVoided,
    PayLinkReplaced,
    PaymentFailed,
    PaymentInitiated,
    PaymentMethod,
    PaymentReceived,
    RefundIssued,
)
from shared.envelope import Envelope
from shared.faults import crash_point

log = logging.getLogger(__name__)
SOURCE = "/services/payments"
Clock = Callable[[], datetime]


class TenantMismatch(Exception):
    """An event names one shop in its body and another in its envelope: never processed."""


def when_invoicing_tells_keep_copy(envelope: Envelope, uow: UnitOfWork) -> None:
    """InvoiceSent, a correction of a sent invoice, a replaced pay link or InvoiceVoided: the copy
    the pay page shows, right whatever order they come in."""
    event = envelope.event
    assert isinstance(event, InvoiceSent | InvoiceUpdated | InvoiceVoided | PayLinkReplaced)
    if event.shop_id != envelope.tenant:
        raise TenantMismatch(f"{envelope.type} for {event.shop_id} came as {envelope.tenant}")
    invoice = uow.invoices.get(event.invoice_id) or PayableInvoice(event.invoice_id, event.shop_id)
    if invoice.shop_id != event.shop_id:
        raise TenantMismatch(f"{envelope.type} names another shop's invoice")
    if isinstance(event, InvoiceSent):
        invoice.keep_sent(event)
    elif isinstance(event, InvoiceVoided):
        invoice.keep_voided(event)
    elif isinstance(event, PayLinkReplaced):
        if not invoice.keep_new_link(event):
            return
    elif not invoice.keep_correction(event):
        return
    uow.invoices.save(invoice)


@dataclass(frozen=True)
class PayPage:
    invoice: PayableInvoice
    ledger: Ledger
    saved_cards: list[SavedCard]


def open_pay_link(
    token: str, method: str, user_agent: str, uow: UnitOfWork, clock: Clock
) -> PayPage | None:
    """The customer opens the link: the first real open publishes InvoiceViewed (once, even
    when two opens race); link previews and HEAD requests are not counted as views."""
    now = clock()
    with uow:
        opened = uow.invoices.open(token, is_a_real_open(method, user_agent), now)
        if opened is None:
            return None
        if opened.first_view:
            _publish_viewed(opened, now, uow)
        ledger = Ledger(uow.charges.for_invoice(opened.invoice.invoice_id))
        cards = saved_cards_for(opened.invoice, uow)
        uow.commit()
    return PayPage(opened.invoice, ledger, cards)


def is_revoked_pay_link(token: str, uow: UnitOfWork) -> bool:
    """A link staff replaced: the customer is told it is no longer valid (nothing else)."""
    with uow:
        return uow.invoices.revoked(token)


def read_pay_page(token: str, uow: UnitOfWork) -> PayPage | None:
    """The invoice and what was paid on it, without counting a view (the PDF link)."""
    with uow:
        invoice = uow.invoices.by_token(token)
        if invoice is None:
            return None
        page = PayPage(invoice, Ledger(uow.charges.for_invoice(invoice.invoice_id)), [])
    return page


def _publish_viewed(opened: Opened, now: datetime, uow: UnitOfWork) -> None:
    invoice = opened.invoice
    event = InvoiceViewed(invoice_id=invoice.invoice_id, shop_id=invoice.shop_id, viewed_at=now)
    envelope = Envelope(event=event, tenant=invoice.shop_id, source=SOURCE)
    uow.publish(f"viewed:{invoice.invoice_id}", 1, envelope)


# --- paying ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    charge_id: str
    client_secret: str
    amount_cents: int
    method: PaymentMethod
    status: str
    """succeeded, processing (ACH), requires_action (3-D Secure) or requires_payment_method."""


def start_payment(
    token: str,
    charge_id: str,
    amount_cents: int,
    method: PaymentMethod,
    uow: UnitOfWork,
    gateway: PaymentGateway,
    payment_method_ref: str | None = None,
    bank: BankDebit | None = None,
    mandate: Mandate | None = None,
    *,
    save_card: bool = False,
    saved_card: str | None = None,
    clock: Clock = lambda: datetime.now(UTC),
) -> Started:
    """A PaymentIntent for the amount the server allows: checked against the invoice and what
    has been paid, recorded before Stripe is called, with the attempt's id as idempotency key
    (a retried click gets the same PaymentIntent)."""
    with uow:
        invoice = _by_token(uow, token)
        existing = uow.charges.get(charge_id)
        if existing is not None and existing.intent_id is not None:
            _same_attempt(existing, invoice.invoice_id, amount_cents, method)
            if existing.status in ("succeeded", "processing"):  # a retry of one that went through
                return Started(charge_id, "", amount_cents, method, existing.status)
            raise AttemptAlreadyStarted(charge_id)
        ledger = Ledger(uow.charges.for_invoice(invoice.invoice_id))
        check_payment(invoice, ledger, amount_cents, method)
        if saved_card is not None:
            _must_be_theirs(uow, invoice, saved_card)
            payment_method_ref = saved_card
        charge = Charge(charge_id, invoice.invoice_id, invoice.shop_id, amount_cents, method)
        uow.charges.add(charge)
        customer_ref = _customer_ref(uow, gateway, invoice)
        uow.commit()
    try:
        intent = gateway.create_intent(
            amount_cents=amount_cents,
            currency="USD",
            method=method,
            customer_ref=customer_ref,
            metadata={"shop": invoice.shop_id, "invoice": invoice.invoice_id, "charge": charge_id},
            idempotency_key=f"charge:{charge_id}",
            payment_method_ref=payment_method_ref,
            bank=bank,
            mandate=mandate,
        )
    except CardDeclined:
        _mark(uow, charge_id, "failed")
        raise
    crash_point("payments.after_intent")
    with uow:
        stored = uow.charges.get(charge_id)
        assert stored is not None
        stored.intent_id = intent.intent_id
        _tell(uow, stored, _fact_for(f"payment_intent.{intent.status}", stored, clock(), ""))
        uow.charges.save(stored)
        if save_card and payment_method_ref and saved_card is None:
            assert invoice.customer is not None
            card = gateway.card_of(payment_method_ref)
            uow.processor.save_card(invoice.shop_id, invoice.customer.customer_id, card)
        uow.commit()
    if payment_method_ref and not save_card and saved_card is None and intent.status == "succeeded":
        gateway.forget_card(payment_method_ref)  # paid, and not to be kept
    return Started(charge_id, intent.client_secret, amount_cents, method, intent.status)


def _must_be_theirs(uow: UnitOfWork, invoice: PayableInvoice, payment_method_ref: str) -> None:
    """A saved card pays only its own customer's invoices (a card id from elsewhere is refused)."""
    assert invoice.customer is not None
    cards = uow.processor.saved_cards(invoice.shop_id, invoice.customer.customer_id)
    if payment_method_ref not in {card.payment_method for card in cards}:
        raise PaymentRefused("saved_card", "not one of this customer's saved cards")


def saved_cards_for(invoice: PayableInvoice, uow: UnitOfWork) -> list[SavedCard]:
    if invoice.customer is None:
        return []
    return uow.processor.saved_cards(invoice.shop_id, invoice.customer.customer_id)


def _mark(uow: UnitOfWork, charge_id: str, status: ChargeStatus) -> None:
    with uow:
        stored = uow.charges.get(charge_id)
        assert stored is not None
        stored.status = status
        uow.charges.save(stored)
        uow.commit()


def start_card_setup(token: str, attempt: str, uow: UnitOfWork, gateway: PaymentGateway) -> str:
    """Before a card payment: a SetupIntent for the customer, so the page can turn the card
    into a PaymentMethod with Stripe.js. Its client secret."""
    with uow:
        invoice = _by_token(uow, token)
        check_payable(invoice, Ledger(uow.charges.for_invoice(invoice.invoice_id)), "card")
        customer_ref = _customer_ref(uow, gateway, invoice)
        uow.commit()
    return gateway.create_setup(customer_ref, idempotency_key=f"setup:{attempt}")


class AttemptAlreadyStarted(Exception):
    """This attempt already has a PaymentIntent: reload the page to pay again."""


class UnknownPayLink(Exception):
    pass


def _same_attempt(charge: Charge, invoice_id: str, amount: int, method: str) -> None:
    if (charge.invoice_id, charge.amount_cents, charge.method) != (invoice_id, amount, method):
        raise PaymentRefused("attempt", "this attempt was for another payment")


class RevokedPayLink(Exception):
    """Staff replaced this link: it takes no payment (one already started on it still settles)."""


def _by_token(uow: UnitOfWork, token: str) -> PayableInvoice:
    opened = uow.invoices.by_token(token)
    if opened is None:
        if uow.invoices.revoked(token):
            raise RevokedPayLink("this pay link is no longer valid: ask the business for a new one")
        raise UnknownPayLink(token)
    return opened


def _customer_ref(uow: UnitOfWork, gateway: PaymentGateway, invoice: PayableInvoice) -> str:
    """One processor customer per shop customer, made the first time they pay."""
    assert invoice.customer is not None
    known = uow.processor.customer_ref(invoice.shop_id, invoice.customer.customer_id)
    if known:
        return known
    ref = gateway.customer_for(invoice.shop_id, invoice.customer)
    uow.processor.remember_customer(invoice.shop_id, invoice.customer.customer_id, ref)
    return ref


# --- what Stripe tells us ------------------------------------------------------------------------

FACT_VERSIONS = {"PaymentInitiated": 1, "PaymentReceived": 2, "PaymentFailed": 3}
"""A charge's facts are one stream: each happens at most once per PaymentIntent."""


def when_stripe_reports(event: StripeEvent, uow: UnitOfWork, clock: Clock) -> bool:
    """A verified webhook, acted on once per Stripe event id: processing → PaymentInitiated,
    succeeded → PaymentReceived, payment_failed (or an ACH return) → PaymentFailed. False when
    it changed nothing (seen before, or not one of ours)."""
    with uow:
        if not uow.processor.first_delivery(event.event_id, event.event_type):
            return False
        charge = _charge_of(uow, event)
        if charge is None:
            uow.commit()  # not ours (another environment's intent): remembered, ignored
            return False
        fact = _fact_for(event.event_type, charge, clock(), event.failure)
        if fact is not None:
            uow.charges.save(charge)
            _tell(uow, charge, fact)
        uow.commit()
    return fact is not None


UNSETTLED_PER_PASS = 200
CHECK_WINDOW = timedelta(days=10)
"""Older than this, an unsettled charge is one the customer left (a card never confirmed):
bank debits clear within days and Stripe retries a webhook for three."""


def ask_stripe_about_unsettled(
    new_uow: Callable[[], UnitOfWork],
    gateway: PaymentGateway,
    clock: Clock,
    after: timedelta,
    keep_going: Callable[[], bool] = lambda: True,
    per_pass: int = UNSETTLED_PER_PASS,
) -> int:
    """Charges Stripe has not settled ``after`` they were made are asked of Stripe (each at most
    once per ``after``, those asked longest ago first), and what it says is acted on as its
    webhook would have been: a webhook can be lost (our process down when it came, Stripe giving
    up), the money cannot. A charge Stripe cannot answer for now waits for its next turn and holds
    up none of the others; ``keep_going`` is asked before each (False: stop the pass). How many
    charges it settled."""
    with new_uow() as uow:
        now = clock()
        waiting = uow.charges.due_for_check(now - CHECK_WINDOW, now - after, now, per_pass)
        uow.commit()
    settled = 0
    for charge in waiting:
        if not keep_going():
            break
        if _ask_stripe_about(charge, new_uow, gateway, clock):
            settled += 1
    return settled


def _ask_stripe_about(
    charge: Charge, new_uow: Callable[[], UnitOfWork], gateway: PaymentGateway, clock: Clock
) -> bool:
    assert charge.intent_id is not None
    try:
        return when_stripe_reports(gateway.state_of(charge.intent_id), new_uow(), clock)
    except Exception:  # Stripe or the database is away, or Stripe knows no such intent
        log.warning("asking Stripe about %s failed", charge.intent_id, exc_info=True)
        return False


def _tell(uow: UnitOfWork, charge: Charge, fact: Event | None) -> None:
    """Publish a charge's fact as its version of the charge's stream: the answer to our own
    request and Stripe's webhook may both report it; the stream keeps one."""
    if fact is None:
        return
    envelope = Envelope(event=fact, tenant=charge.shop_id, source=SOURCE)
    uow.publish(f"charge:{charge.charge_id}", FACT_VERSIONS[envelope.type], envelope)


def _charge_of(uow: UnitOfWork, event: StripeEvent) -> Charge | None:
    """By the intent id, or — when Stripe is quicker than our own write of that id (ACH's
    processing event can come before create returns) — by the charge id in its metadata."""
    charge = uow.charges.by_intent(event.intent_id)
    if charge is not None:
        return charge
    charge = uow.charges.get(event.metadata.get("charge", ""))
    if charge is None or charge.intent_id not in (None, event.intent_id):
        return None
    charge.intent_id = event.intent_id
    return charge


def _fact_for(kind: str, charge: Charge, now: datetime, failure: str) -> Event | None:
    """The fact Stripe's word ``kind`` (payment_intent.<status or event>) makes of the charge,
    changing its status; None if it tells nothing new."""
    common = {
        "payment_id": charge.charge_id,
        "invoice_id": charge.invoice_id,
        "shop_id": charge.shop_id,
        "amount_cents": charge.amount_cents,
        "method": charge.method,
    }
    if kind == "payment_intent.processing" and charge.status == "created":
        charge.status = "processing"
        return PaymentInitiated(initiated_at=now, **common)
    if kind == "payment_intent.succeeded" and charge.status in (
        "created",
        "processing",
    ):
        charge.status = "succeeded"
        return PaymentReceived(received_at=now, **common)
    if kind == "payment_intent.payment_failed" and charge.status != "failed":
        charge.status = "failed"
        return PaymentFailed(failed_at=now, reason=failure, **common)
    return None


# --- refunds -----------------------------------------------------------------------------------


def refund_payment(
    shop_id: str,
    charge_id: str,
    amount_cents: int,
    reason: str,
    by: str,
    uow: UnitOfWork,
    gateway: PaymentGateway,
    clock: Clock,
    request_key: str | None = None,
) -> Charge:
    """Refund all or part of a payment, never more than is left of it; RefundIssued tells
    invoicing (status, balance) and reporting. The same ``request_key`` (the staff app's
    Idempotency-Key) is the same refund: retried after a crash, it is made and told once. The
    charge stays locked while Stripe refunds, so two refunds of one payment cannot overlap."""
    refund_id = _refund_id(shop_id, charge_id, request_key)
    with uow:
        charge = uow.charges.get(charge_id)
        if charge is None or charge.shop_id != shop_id or charge.intent_id is None:
            raise UnknownPayment(charge_id)
        if uow.processor.has_refund(refund_id):
            return charge  # this request was done already
        check_refund(charge, amount_cents)
        ref = gateway.refund(charge.intent_id, amount_cents, idempotency_key=f"refund:{refund_id}")
        crash_point("payments.after_refund")
        charge.refunded_cents += amount_cents
        uow.charges.save(charge)
        uow.processor.record_refund(refund_id, charge_id, amount_cents, reason, by, ref)
        fact = RefundIssued(
            refund_id=refund_id,
            payment_id=charge.charge_id,
            invoice_id=charge.invoice_id,
            shop_id=shop_id,
            refunded_at=clock(),
            amount_cents=amount_cents,
            reason=reason,
            refunded_by=by,
        )
        uow.publish(f"refund:{refund_id}", 1, Envelope(event=fact, tenant=shop_id, source=SOURCE))
        uow.commit()
    return charge


REFUND_NAMESPACE = uuid.UUID("1d7c3f3e-5f43-4a4e-9c55-0b7c8a2f1e61")


def _refund_id(shop_id: str, charge_id: str, request_key: str | None) -> str:
    if not request_key:
        return str(uuid.uuid4())
    return str(uuid.uuid5(REFUND_NAMESPACE, f"{shop_id}:{charge_id}:{request_key}"))


class UnknownPayment(Exception):
    pass
