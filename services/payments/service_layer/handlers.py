"""Use cases of the payments service."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from services.payments.domain.ledger import (
    Charge,
    ChargeStatus,
    Ledger,
    PaymentRefused,
    check_payable,
    check_payment,
)
from services.payments.domain.model import PayableInvoice, is_a_real_open
from services.payments.service_layer.gateway import (
    BankDebit,
    CardDeclined,
    Mandate,
    PaymentGateway,
    PaymentMethodRefused,
    SavedCard,
)
from services.payments.service_layer.reconciling import fact_for, tell
from services.payments.service_layer.refunds import SOURCE, Clock, queue_give_back_if_owed
from services.payments.service_layer.unit_of_work import Opened, UnitOfWork
from shared.contracts import (
    InvoiceSent,
    InvoiceUpdated,
    InvoiceViewed,
    InvoiceVoided,
    PayLinkReplaced,
    PaymentMethod,
)
from shared.envelope import Envelope
from shared.faults import crash_point

log = logging.getLogger(__name__)


class TenantMismatch(Exception):
    """An event names one shop in its body and another in its envelope: never processed."""


def when_invoicing_tells_keep_copy(envelope: Envelope, uow: UnitOfWork) -> None:
    """InvoiceSent, a correction of a sent invoice, a replaced pay link or InvoiceVoided: the copy
    the pay page shows, right whatever order they come in. Once void, no payment starts; money
    already kept on it is queued to be given back (in this transaction)."""
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
        uow.invoices.save(invoice)
        queue_give_back_if_owed(uow, invoice.invoice_id)
        return
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
        check_payment(invoice, ledger, amount_cents, method, clock(), charge_id)
        if saved_card is not None:
            _must_be_theirs(uow, invoice, saved_card)
            payment_method_ref = saved_card
        charge = Charge(
            charge_id, invoice.invoice_id, invoice.shop_id, amount_cents, method, created_at=clock()
        )
        uow.charges.add(charge)  # reserves the amount until it fails or expires
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
    except (CardDeclined, PaymentMethodRefused):
        _mark(uow, charge_id, "failed")
        raise
    crash_point("payments.after_intent")
    with uow:
        uow.invoices.get(invoice.invoice_id)
        stored = uow.charges.get(charge_id)
        assert stored is not None
        stored.intent_id = intent.intent_id
        fact = fact_for(f"payment_intent.{intent.status}", stored, clock(), "")
        tell(uow, stored, fact)
        uow.charges.save(stored)
        if stored.status == "succeeded":
            queue_give_back_if_owed(uow, invoice.invoice_id)
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
        found = uow.charges.find("", charge_id)
        assert found is not None
        uow.invoices.get(found.invoice_id)
        stored = uow.charges.get(charge_id)
        assert stored is not None
        stored.status = status
        uow.charges.save(stored)
        uow.commit()


def start_card_setup(
    token: str,
    attempt: str,
    uow: UnitOfWork,
    gateway: PaymentGateway,
    clock: Clock = lambda: datetime.now(UTC),
) -> str:
    """Before a card payment: a SetupIntent for the customer, so the page can turn the card
    into a PaymentMethod with Stripe.js. Its client secret."""
    with uow:
        invoice = _by_token(uow, token)
        ledger = Ledger(uow.charges.for_invoice(invoice.invoice_id))
        check_payable(invoice, ledger, "card", clock())
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
