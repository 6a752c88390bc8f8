"""Money going back to the customer: refunds staff ask for, and money given back on its own
when nothing is owed for it (a payment that landed on a void invoice, or beyond the balance).

Locks are taken invoice first, then charge, like every other writer, so a refund, a webhook and
a void never wait on each other in a circle."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Literal

from services.payments.domain.ledger import Charge, Ledger, check_refund
from services.payments.service_layer.gateway import PaymentGateway
from services.payments.service_layer.unit_of_work import UnitOfWork
from shared.contracts import RefundIssued
from shared.envelope import Envelope
from shared.faults import crash_point
from shared.metrics import MONEY_GIVEN_BACK

log = logging.getLogger(__name__)
SOURCE = "/services/payments"
Clock = Callable[[], datetime]
RefundKind = Literal["credit", "money_back"]
AUTOMATIC = "FieldPay (automatic)"
GIVE_BACKS_PER_PASS = 100


class UnknownPayment(Exception):
    pass


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
    kind: RefundKind = "credit",
) -> Charge:
    """Refund all or part of a payment, never more than is left of it; RefundIssued tells
    invoicing (status, balance) and reporting. ``kind`` "credit" (the default) lowers what the
    invoice asks for by the refund; "money_back" gives the money back and leaves it owed. The
    same ``request_key`` (the staff app's Idempotency-Key) is the same refund: retried after a
    crash, it is made and told once. The charge stays locked while Stripe refunds, so two refunds
    of one payment cannot overlap."""
    refund_id = _refund_id(shop_id, charge_id, request_key)
    with uow:
        charge = _locked(uow, shop_id, charge_id)
        if uow.processor.has_refund(refund_id):
            return charge  # this request was done already
        check_refund(charge, amount_cents)
        _refund(uow, gateway, charge, amount_cents, refund_id, (reason, by, kind), clock)
        uow.commit()
    return charge


def _locked(uow: UnitOfWork, shop_id: str, charge_id: str) -> Charge:
    found = uow.charges.find("", charge_id)
    if found is None or found.shop_id != shop_id or found.intent_id is None:
        raise UnknownPayment(charge_id)
    uow.invoices.get(found.invoice_id)
    charge = uow.charges.get(charge_id)
    assert charge is not None
    return charge


def _refund(
    uow: UnitOfWork,
    gateway: PaymentGateway,
    charge: Charge,
    amount_cents: int,
    refund_id: str,
    why: tuple[str, str, RefundKind],
    clock: Clock,
) -> None:
    """Stripe first (its idempotency key makes a retry after a crash the same refund), then the
    charge, the refund row and RefundIssued in this transaction."""
    reason, by, kind = why
    assert charge.intent_id is not None
    ref = gateway.refund(charge.intent_id, amount_cents, idempotency_key=f"refund:{refund_id}")
    crash_point("payments.after_refund")
    charge.refunded_cents += amount_cents
    uow.charges.save(charge)
    uow.processor.record_refund(refund_id, charge.charge_id, amount_cents, reason, by, ref)
    fact = RefundIssued(
        refund_id=refund_id,
        payment_id=charge.charge_id,
        invoice_id=charge.invoice_id,
        shop_id=charge.shop_id,
        refunded_at=clock(),
        amount_cents=amount_cents,
        reason=reason,
        refunded_by=by,
        kind=kind,
    )
    envelope = Envelope(event=fact, tenant=charge.shop_id, source=SOURCE)
    uow.publish(f"refund:{refund_id}", 1, envelope)


REFUND_NAMESPACE = uuid.UUID("1d7c3f3e-5f43-4a4e-9c55-0b7c8a2f1e61")


def _refund_id(shop_id: str, charge_id: str, request_key: str | None) -> str:
    if not request_key:
        return str(uuid.uuid4())
    return str(uuid.uuid5(REFUND_NAMESPACE, f"{shop_id}:{charge_id}:{request_key}"))


# --- money nothing is owed for -------------------------------------------------------------------


def queue_give_back_if_owed(uow: UnitOfWork, invoice_id: str) -> bool:
    """In the transaction that learnt it (a payment arrived, the invoice was voided): if money is
    kept that nothing is owed for, the invoice is queued for giving it back — the queue row
    commits with the fact, so a crash cannot lose it. The invoice must be locked already."""
    invoice = uow.invoices.get(invoice_id)
    if invoice is None:
        return False
    if not Ledger(uow.charges.for_invoice(invoice_id)).money_to_give_back(invoice):
        return False
    uow.give_backs.queue(invoice_id, invoice.shop_id)
    return True


def give_back_money_kept(
    new_uow: Callable[[], UnitOfWork], gateway: PaymentGateway, clock: Clock
) -> int:
    """Each queued invoice on its own (one that fails waits for the next pass and holds up
    none of the others): what is kept beyond what is owed is refunded, newest payment first.
    How many refunds it made."""
    with new_uow() as uow:
        queued = uow.give_backs.queued(GIVE_BACKS_PER_PASS)
        uow.commit()
    made = 0
    for invoice_id in queued:
        try:
            made += _give_back(invoice_id, new_uow(), gateway, clock)
        except Exception:  # Stripe or the database is away: the row stays queued
            log.warning("giving back money on %s failed", invoice_id, exc_info=True)
    return made


def _give_back(invoice_id: str, uow: UnitOfWork, gateway: PaymentGateway, clock: Clock) -> int:
    with uow:
        invoice = uow.invoices.get(invoice_id)
        if invoice is None or not uow.give_backs.take(invoice_id):
            return 0  # another worker gave it back already
        owed_back = Ledger(uow.charges.for_invoice(invoice_id)).money_to_give_back(invoice)
        cause = "void" if invoice.voided_at else "overpaid"
        reason = {
            "void": "Given back automatically: the invoice was void when this payment arrived",
            "overpaid": "Given back automatically: more was paid than the invoice asked for",
        }[cause]
        why: tuple[str, str, RefundKind] = (reason, AUTOMATIC, "money_back")
        for kept, amount in owed_back:
            charge = uow.charges.get(kept.charge_id)
            assert charge is not None
            key = f"give-back:{cause}:{charge.refunded_cents}"
            refund_id = _refund_id(charge.shop_id, charge.charge_id, key)
            _refund(uow, gateway, charge, amount, refund_id, why, clock)
        uow.commit()
    for _, amount in owed_back:
        MONEY_GIVEN_BACK.labels(cause).inc(amount)
    return len(owed_back)
