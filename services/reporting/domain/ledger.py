"""What reporting knows of one invoice, folded from events in any order, and what it was owed at
the end of each day since it was sent. Standard library, the contracts and the money function.

An invoice's history is kept as facts with their own times (sent, each correction, each payment's
receipt and failure, each refund, the void), never as a running total, so a late or repeated event
lands where it belongs in time and the balance on any past day can be told exactly."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.contracts import (
    Event,
    InvoiceSent,
    InvoiceUpdated,
    InvoiceVoided,
    PaymentFailed,
    PaymentReceived,
    RefundIssued,
)
from shared.money import invoice_balance

DEFAULT_ZONE = "America/Los_Angeles"
FACTS = (InvoiceSent, InvoiceUpdated, InvoiceVoided, PaymentReceived, PaymentFailed, RefundIssued)


class TenantMismatch(Exception):
    """An event names another shop's invoice."""


@dataclass
class Payment:
    amount_cents: int
    received_at: datetime | None = None
    failed_at: datetime | None = None


@dataclass
class InvoiceFacts:
    invoice_id: str
    shop_id: str
    customer_id: str = ""
    customer_name: str = ""
    number: str = ""
    zone: str = DEFAULT_ZONE
    sent_at: datetime | None = None
    corrections: set[tuple[datetime, int, date | None]] = field(default_factory=set)
    """(since, total, due date or None: unchanged) of each correction after sending."""
    first: tuple[int, date] | None = None
    """(total, due date) as sent."""
    payments: dict[str, Payment] = field(default_factory=dict)
    refunds: dict[str, tuple[datetime, int]] = field(default_factory=dict)
    voided_at: datetime | None = None

    def record(self, event: Event) -> bool:
        """Fold one fact in; False when it changes nothing (a duplicate)."""
        before = self.snapshot()
        self.fold(event)
        return self.snapshot() != before

    def fold(self, event: Event) -> None:
        """Fold one fact in (the same state however often and in whatever order)."""
        if getattr(event, "shop_id", self.shop_id) != self.shop_id:
            raise TenantMismatch(f"{type(event).__name__} names another shop's invoice")
        if isinstance(event, InvoiceSent):
            self._sent(event)
        elif isinstance(event, InvoiceUpdated):
            self._corrected(event)
        elif isinstance(event, InvoiceVoided):
            self.voided_at = min(filter(None, (self.voided_at, event.voided_at)))
        elif isinstance(event, PaymentReceived | PaymentFailed):
            self._payment(event)
        elif isinstance(event, RefundIssued):
            self.refunds[event.refund_id] = (event.refunded_at, event.amount_cents)

    def _sent(self, sent: InvoiceSent) -> None:
        self.customer_id, self.customer_name = sent.customer.customer_id, sent.customer.name
        self.number, self.sent_at = sent.invoice_number, sent.sent_at
        self.zone = sent.shop.time_zone if sent.shop else DEFAULT_ZONE
        self.first = (sent.totals.total_cents, sent.due_date)

    def _corrected(self, update: InvoiceUpdated) -> None:
        if update.sent and update.change != "note":
            self.corrections.add((update.updated_at, update.totals.total_cents, update.due_date))

    @property
    def terms(self) -> list[tuple[datetime, int, date]]:
        """(since, total, due date): as sent, then after each correction in time order."""
        if self.sent_at is None or self.first is None:
            return []
        found = [(self.sent_at, *self.first)]
        for at, total, due in sorted(self.corrections, key=lambda c: (c[0], c[1], str(c[2]))):
            found.append((at, total, due or found[-1][2]))
        return found

    def _payment(self, fact: PaymentReceived | PaymentFailed) -> None:
        payment = self.payments.setdefault(fact.payment_id, Payment(fact.amount_cents))
        if isinstance(fact, PaymentReceived):
            times = (payment.received_at, fact.received_at)
            payment.received_at = min(t for t in times if t is not None)
        else:
            times = (payment.failed_at, fact.failed_at)
            payment.failed_at = max(t for t in times if t is not None)

    def snapshot(self) -> tuple[object, ...]:
        payments = sorted(
            (k, p.amount_cents, p.received_at, p.failed_at) for k, p in self.payments.items()
        )
        return (
            self.customer_id,
            self.sent_at,
            self.first,
            tuple(sorted(self.corrections, key=str)),
            tuple(payments),
            tuple(sorted(self.refunds.items())),
            self.voided_at,
        )

    # --- what was owed, day by day ------------------------------------------------------------

    def days(self) -> list[tuple[date, date, int]]:
        """(day, due date, balance at the end of that day, in the shop's time zone) for each day
        something changed, from the day it was sent. One pass over the facts in time order; the
        same as what was owed at each day's last moment (tests/unit/test_aging.py checks it)."""
        terms = self.terms
        if self.sent_at is None or not terms:
            return []
        zone = ZoneInfo(self.zone)
        state = [terms[0][1], 0, 0, 0]  # total, paid, refunded, void
        due = terms[0][2]
        found: list[tuple[date, date, int]] = []
        day = self.sent_at.astimezone(zone).date()
        for moment, kind, amount, new_due in self._changes(terms):
            if moment > self.sent_at and (on := moment.astimezone(zone).date()) != day:
                found.append((day, due, _balance(state)))
                day = on
            if kind == TERM:
                state[0], due = amount, new_due or due
            else:
                state[kind] += amount
        found.append((day, due, _balance(state)))
        return found

    def _changes(
        self, terms: list[tuple[datetime, int, date]]
    ) -> list[tuple[datetime, int, int, date | None]]:
        """(moment, what, amount, due date) of every change after sending, in time order."""
        changes: list[tuple[datetime, int, int, date | None]] = [
            (at, TERM, total, due) for at, total, due in terms[1:]
        ]
        for p in self.payments.values():
            if p.received_at is None:
                continue
            changes.append((p.received_at, PAID, p.amount_cents, None))
            if p.failed_at is not None and p.failed_at >= p.received_at:
                changes.append((p.failed_at, PAID, -p.amount_cents, None))
        changes += [(at, REFUNDED, amount, None) for at, amount in self.refunds.values()]
        if self.voided_at is not None:
            changes.append((self.voided_at, VOID, 1, None))
        changes.sort(key=lambda c: (c[0], c[1]))
        return changes


TERM, PAID, REFUNDED, VOID = 0, 1, 2, 3


def _balance(state: list[int]) -> int:
    if state[VOID]:
        return 0
    return invoice_balance(state[0], (state[PAID],), (state[REFUNDED],)).balance_cents


Key = tuple[str, date, date]
"""(customer, due date, day)."""


def contributions(facts: InvoiceFacts) -> dict[Key, tuple[int, int]]:
    """What this invoice adds to the shop's changes: on each day its state changed, its old
    (due date, balance, open?) leaves and its new one arrives. Summed over days ≤ D and grouped by
    due date, these give what was owed on D and how long past due."""
    found: dict[Key, tuple[int, int]] = {}
    previous: tuple[date, int] | None = None
    for day, due, balance in facts.days():
        if previous is not None:
            _add(found, (facts.customer_id, previous[0], day), -previous[1], -_open(previous[1]))
        _add(found, (facts.customer_id, due, day), balance, _open(balance))
        previous = (due, balance)
    return {k: v for k, v in found.items() if v != (0, 0)}


def _open(balance: int) -> int:
    return 1 if balance != 0 else 0


def _add(found: dict[Key, tuple[int, int]], key: Key, cents: int, count: int) -> None:
    had = found.get(key, (0, 0))
    found[key] = (had[0] + cents, had[1] + count)


def owed_on(
    changes: Iterable[tuple[Key, tuple[int, int]]], day: date
) -> list[tuple[str, date, int, int]]:
    """(customer, due date, cents, open invoices) owed at the end of ``day``: the changes up to
    it, summed. (The database does the same with one GROUP BY.)"""
    summed: dict[tuple[str, date], tuple[int, int]] = {}
    for (customer, due, on), (cents, count) in changes:
        if on <= day:
            had = summed.get((customer, due), (0, 0))
            summed[(customer, due)] = (had[0] + cents, had[1] + count)
    return [(c, d, cents, n) for (c, d), (cents, n) in summed.items() if (cents, n) != (0, 0)]


def changed(
    before: dict[Key, tuple[int, int]], after: dict[Key, tuple[int, int]]
) -> dict[Key, tuple[int, int]]:
    """What to add to the shop's sums when an invoice's contributions go from before to after."""
    delta: dict[Key, tuple[int, int]] = {}
    for key in before.keys() | after.keys():
        old, new = before.get(key, (0, 0)), after.get(key, (0, 0))
        if old != new:
            delta[key] = (new[0] - old[0], new[1] - old[1])
    return delta


def to_record(facts: InvoiceFacts) -> dict[str, object]:
    """The facts as plain JSON (how the store keeps them)."""

    def t(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "customer_id": facts.customer_id,
        "customer_name": facts.customer_name,
        "number": facts.number,
        "zone": facts.zone,
        "sent_at": t(facts.sent_at),
        "first": [facts.first[0], facts.first[1].isoformat()] if facts.first else None,
        "corrections": sorted(
            (
                [t(at), total, due.isoformat() if due else None]
                for at, total, due in facts.corrections
            ),
            key=str,
        ),
        "payments": {
            k: [p.amount_cents, t(p.received_at), t(p.failed_at)] for k, p in facts.payments.items()
        },
        "refunds": {k: [t(at), amount] for k, (at, amount) in facts.refunds.items()},
        "voided_at": t(facts.voided_at),
    }


def from_record(invoice_id: str, shop_id: str, record: dict[str, Any]) -> InvoiceFacts:
    def t(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text) if text else None

    def d(text: str | None) -> date | None:
        return date.fromisoformat(text) if text else None

    first = record["first"]
    return InvoiceFacts(
        invoice_id,
        shop_id,
        record["customer_id"],
        record["customer_name"],
        record["number"],
        record["zone"],
        t(record["sent_at"]),
        {(datetime.fromisoformat(at), total, d(due)) for at, total, due in record["corrections"]},
        (first[0], date.fromisoformat(first[1])) if first else None,
        {k: Payment(a, t(r), t(f)) for k, (a, r, f) in record["payments"].items()},
        {k: (datetime.fromisoformat(at), amount) for k, (at, amount) in record["refunds"].items()},
        t(record["voided_at"]),
    )
