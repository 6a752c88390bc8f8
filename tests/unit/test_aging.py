"""AR aging invariants over random event histories (hypothesis): bucket sums equal the total
outstanding, which equals the invoices' totals minus payments plus refunds; the report as of a
past day equals the report computed live on that day (from only the events known by then); and
out-of-order or repeated events change nothing."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from services.reporting.domain.aging import Buckets, aging
from services.reporting.domain.ledger import (
    InvoiceFacts,
    TenantMismatch,
    contributions,
    from_record,
    owed_on,
    to_record,
)
from shared import contracts
from tests.unit import builders

pytestmark = pytest.mark.unit
ZONE = ZoneInfo("America/Chicago")
START = datetime(2026, 1, 5, 9, tzinfo=UTC)
SHOP = "shop-1"


@st.composite
def history(draw: st.DrawFn, invoice_id: str) -> list[contracts.Event]:
    """One invoice's events, each at its own moment (minutes after the start)."""
    customer = draw(st.sampled_from(["c1", "c2", "c3"]))
    at = [START + timedelta(minutes=draw(st.integers(0, 60 * 24 * 40)))]

    def later() -> datetime:
        """Each fact after the one before (a return after its receipt, a refund after both)."""
        at.append(at[-1] + timedelta(minutes=draw(st.integers(1, 60 * 24 * 20))))
        return at[-1]

    total = draw(st.integers(1, 500_000))
    sent_day = at[0].astimezone(ZONE).date()
    due = sent_day + timedelta(days=draw(st.integers(0, 45)))
    about = {"invoice_id": invoice_id, "shop_id": SHOP}
    events: list[contracts.Event] = [
        contracts.InvoiceSent(
            **about,
            invoice_number=invoice_id,
            sent_at=at[0],
            due_date=due,
            customer=builders.customer_snapshot(customer_id=customer),
            service_address=builders.address(),
            lines=[],
            totals=contracts.InvoiceTotals(subtotal_cents=total, tax_cents=0, total_cents=total),
            allowed_payment_methods=["card", "ach"],
            pay_url="https://pay.example.com/p/x",
            shop=contracts.ShopBranding(name="Shop", time_zone="America/Chicago"),
        )
    ]
    for n in range(draw(st.integers(0, 2))):
        new_total = draw(st.integers(1, 500_000))
        moved = draw(st.one_of(st.none(), st.integers(0, 60).map(lambda d: due + timedelta(d))))
        events.append(
            contracts.InvoiceUpdated(
                **about,
                updated_at=later(),
                updated_by="Ana",
                change="line_changed",
                summary=f"correction {n}",
                sent=True,
                customer=builders.customer_snapshot(customer_id=customer),
                service_address=builders.address(),
                lines=[],
                totals=contracts.InvoiceTotals(
                    subtotal_cents=new_total, tax_cents=0, total_cents=new_total
                ),
                allowed_payment_methods=["card"],
                due_date=moved,
            )
        )
    for n in range(draw(st.integers(0, 3))):
        pay = {**about, "payment_id": f"{invoice_id}-p{n}", "method": "ach"}
        amount = draw(st.integers(1, total))
        outcome = draw(st.sampled_from(["received", "returned", "failed"]))
        if outcome != "failed":
            received = later()
            events.append(
                contracts.PaymentReceived(**pay, received_at=received, amount_cents=amount)
            )
            if draw(st.booleans()):
                events.append(
                    contracts.RefundIssued(
                        **about,
                        refund_id=f"{invoice_id}-r{n}",
                        payment_id=pay["payment_id"],
                        refunded_at=later(),
                        amount_cents=draw(st.integers(1, amount)),
                    )
                )
        if outcome != "received":
            events.append(contracts.PaymentFailed(**pay, failed_at=later(), amount_cents=amount))
    if draw(st.integers(0, 4)) == 0:
        events.append(contracts.InvoiceVoided(**about, voided_at=later(), voided_by="Ana"))
    return events


histories = st.lists(st.integers(0, 10**6), min_size=1, max_size=5, unique=True).flatmap(
    lambda ids: st.tuples(*(history(f"inv-{i}") for i in ids))
)


def fold(events: list[contracts.Event]) -> dict[str, InvoiceFacts]:
    invoices: dict[str, InvoiceFacts] = {}
    for event in events:
        invoice_id = event.subject
        facts = invoices.setdefault(invoice_id, InvoiceFacts(invoice_id, SHOP))
        facts.record(event)
    return invoices


def changes(invoices: dict[str, InvoiceFacts]) -> list:  # type: ignore[type-arg]
    return [item for facts in invoices.values() for item in contributions(facts).items()]


def when(event: contracts.Event) -> datetime:
    for name in ("sent_at", "updated_at", "voided_at", "received_at", "failed_at", "refunded_at"):
        if hasattr(event, name):
            return getattr(event, name)  # type: ignore[no-any-return]
    raise AssertionError(event)


def outstanding(events: list[contracts.Event], moment: datetime) -> int:
    """The oracle, straight from the events known by ``moment``: each invoice's total (as last
    corrected) minus what was received (less returns) plus refunds; nothing once void."""
    owed = 0
    for invoice_id in {e.subject for e in events}:
        mine = sorted((e for e in events if e.subject == invoice_id), key=when)
        known = [e for e in mine if when(e) <= moment]
        if not any(isinstance(e, contracts.InvoiceSent) for e in known):
            continue
        if any(isinstance(e, contracts.InvoiceVoided) for e in known):
            continue
        totals = [e.totals.total_cents for e in known if hasattr(e, "totals")]
        received = {
            e.payment_id: e.amount_cents for e in known if isinstance(e, contracts.PaymentReceived)
        }
        for e in known:
            if isinstance(e, contracts.PaymentFailed):
                received.pop(e.payment_id, None)
        refunded = sum(e.amount_cents for e in known if isinstance(e, contracts.RefundIssued))
        owed += totals[-1] - sum(received.values()) + refunded
    return owed


def owed_at(facts: InvoiceFacts, moment: datetime) -> tuple[date, int] | None:
    """(due date, balance) of one invoice at a moment, straight from its facts."""
    terms = facts.terms
    if facts.sent_at is None or moment < facts.sent_at or not terms:
        return None
    current = [(total, due) for at, total, due in terms if at <= moment]
    total, due = current[-1] if current else (terms[0][1], terms[0][2])
    if facts.voided_at is not None and facts.voided_at <= moment:
        return due, 0
    paid = sum(
        p.amount_cents
        for p in facts.payments.values()
        if p.received_at is not None
        and p.received_at <= moment
        and not (p.failed_at is not None and p.received_at <= p.failed_at <= moment)
    )
    refunded = sum(amount for at, amount in facts.refunds.values() if at <= moment)
    return due, total - paid + refunded


def end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), ZONE) - timedelta(microseconds=1)


@hypothesis_settings(max_examples=150, deadline=None, database=None)
@given(
    invoices=histories, seed=st.integers(0, 2**32), edges=st.sampled_from([(30, 60, 90), (15, 45)])
)
def test_aging_adds_up_as_of_any_day_in_any_order(
    invoices: tuple[list[contracts.Event], ...], seed: int, edges: tuple[int, ...]
) -> None:
    events = [e for invoice in invoices for e in invoice]
    buckets = Buckets(edges)
    all_changes = changes(fold(events))
    first = START.astimezone(ZONE).date()
    for offset in range(0, 200, 9):
        day = first + timedelta(days=offset)
        report = aging(owed_on(all_changes, day), day, buckets, by_customer=True)
        expected = outstanding(events, end_of(day))
        # bucket sums = total outstanding = totals − payments + refunds
        assert report.total.total_cents == expected
        assert sum(line.total_cents for line in report.customers.values()) == expected
        # as of that day = live on that day, from only what was known by then
        known = [e for e in events if when(e) <= end_of(day)]
        live = aging(owed_on(changes(fold(known)), day), day, buckets, by_customer=True)
        assert (live.total, live.customers) == (report.total, report.customers)
    # day by day, the one-pass states equal what was owed at the end of each of those days
    for facts in fold(events).values():
        for day, due, balance in facts.days():
            assert owed_at(facts, end_of(day)) == (due, balance)
    # kept as JSON and read back: the same facts
    for facts in fold(events).values():
        kept = json.loads(json.dumps(to_record(facts)))
        assert from_record(facts.invoice_id, SHOP, kept).snapshot() == facts.snapshot()
    # out of order and delivered twice: the same changes
    shuffled = events + random.Random(seed).sample(events, k=len(events) // 2)
    random.Random(seed).shuffle(shuffled)
    assert sorted(changes(fold(shuffled))) == sorted(all_changes)


def test_buckets_and_their_edges() -> None:
    buckets = Buckets()
    assert buckets.labels == ["Current", "1–30", "31–60", "61–90", "91+"]
    assert [buckets.index(d) for d in (-5, 0, 1, 30, 31, 90, 91, 400)] == [0, 0, 1, 1, 2, 3, 4, 4]
    as_of = date(2026, 5, 1)
    assert buckets.due_dates(1, as_of) == (date(2026, 4, 1), date(2026, 4, 30))
    assert buckets.due_dates(0, as_of) == (date(2026, 5, 1), None)
    assert buckets.due_dates(4, as_of) == (None, date(2026, 1, 30))
    assert Buckets((10, 20)).labels == ["Current", "1–10", "11–20", "21+"]
    for bad in ((), (30, 30), (60, 30), (0, 30), tuple(range(1, 10))):
        with pytest.raises(ValueError):
            Buckets(bad)


def test_an_event_naming_another_shops_invoice_is_refused() -> None:
    facts = InvoiceFacts("inv-1", SHOP)
    with pytest.raises(TenantMismatch):
        facts.record(
            contracts.InvoiceVoided(
                invoice_id="inv-1", shop_id="other", voided_at=START, voided_by="x"
            )
        )
