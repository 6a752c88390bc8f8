"""The invoice lifecycle on fakes: three ways in, the review's checks, edits, Send, payments in any
order, corrections, void and the timeline."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from services.invoicing.domain.model import (
    AlreadySent,
    BelowAmountPaid,
    CannotSend,
    CannotVoid,
    Edit,
    Invoice,
    InvoiceStatus,
    LineInput,
    NotEditable,
    OutOfBounds,
    UnknownInvoice,
    invoice_id_for_job,
)
from services.invoicing.domain.review import review
from services.invoicing.domain.timeline import timeline
from services.invoicing.service_layer import handlers
from shared import contracts
from shared.envelope import Envelope
from shared.money import invoice_balance
from tests.unit import builders
from tests.unit.fakes import FakeInvoicingUnitOfWork

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
TODAY = date(2026, 3, 2)
SHOP = "shop-1"
EDIT = Edit("Olivia (office)", NOW, card_max_cents=500_000)


def clock() -> datetime:
    return NOW


def drafted(**job_overrides: object) -> Invoice:
    job = builders.job_closed("job-1", **job_overrides)  # type: ignore[arg-type]
    invoice = Invoice(invoice_id_for_job(SHOP, "job-1"))
    invoice.draft_from_closed_job(job, NOW, 500_000)
    return invoice


def codes(invoice: Invoice, card_max: int = 500_000) -> list[str]:
    return [p.code for p in review(invoice, TODAY, card_max).problems]


def send(invoice: Invoice, number: str = "INV-2026-000001") -> None:
    invoice.send(
        number=number,
        pay_token="tok",
        pay_url="http://pay/p/tok",
        today=TODAY,
        branding=contracts.ShopBranding(name="Shop"),
        by="Olivia",
        now=NOW,
        problems=review(invoice, TODAY, 500_000).errors,
    )


# --- the review's checks -------------------------------------------------------------------------


def test_a_plain_invoice_has_nothing_to_flag() -> None:
    same = builders.address("9 Billing Rd")
    invoice = drafted(service_address=same, labor=[])
    assert codes(invoice) == []
    found = review(invoice, TODAY, 500_000)
    assert found.can_send and found.due_date == TODAY + timedelta(days=30)


def test_addresses_that_differ_are_flagged_side_by_side() -> None:
    found = review(drafted(labor=[]), TODAY, 500_000)
    assert [p.code for p in found.problems] == ["addresses_differ"]
    assert (found.bill_to.line1, found.service_address.line1) == ("9 Billing Rd", "2 Service Ave")


def test_lines_added_in_the_field_are_marked() -> None:
    field_line = builders.line_item("li-2").model_copy(update={"added_by": "Luis"})
    invoice = drafted(
        service_address=builders.address("9 Billing Rd"),
        line_items=[builders.line_item("li-1"), field_line],
        labor=[],
    )
    assert codes(invoice) == ["line_added_in_field"]
    assert review(invoice, TODAY, 500_000).lines_added_in_field == ["li-2"]


def test_an_untaxed_item_for_a_taxable_customer_warns_but_untaxed_labor_does_not() -> None:
    invoice = drafted(
        service_address=builders.address("9 Billing Rd"),
        line_items=[builders.line_item("li-1", taxable=False)],
        labor=[builders.labor_entry()],
    )
    assert codes(invoice) == ["line_exempt_customer_not"]


def test_a_taxed_line_for_an_exempt_customer_warns() -> None:
    exempt = builders.customer_snapshot(tax_exempt=True, tax_exemption_certificate="EX-1")
    invoice = drafted(customer=exempt, service_address=builders.address("9 Billing Rd"), labor=[])
    assert codes(invoice) == []  # drafted untaxed for an exempt customer
    line_id = invoice.lines[0].line_id
    invoice.change_line(line_id, {"taxable": True}, EDIT)
    assert codes(invoice) == ["customer_exempt_line_taxed"]


def test_card_is_off_above_the_shop_limit_until_staff_turn_it_on() -> None:
    big = builders.line_item(unit_price_cents=600_000)
    invoice = drafted(service_address=builders.address("9 Billing Rd"), line_items=[big], labor=[])
    assert invoice.allowed_payment_methods == ["ach"]
    assert codes(invoice) == ["card_off_above_limit"]
    invoice.set_payment_methods(["card", "ach"], EDIT)
    assert invoice.allowed_payment_methods == ["card", "ach"] and codes(invoice) == []


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"line_items": [], "labor": []}, "no_lines"),
        (
            {"line_items": [builders.line_item(unit_price_cents=0)], "labor": []},
            "total_not_positive",
        ),
        ({"customer": builders.customer_snapshot(email=None, phone=None)}, "no_contact"),
    ],
)
def test_errors_block_send_and_nothing_is_recorded(
    overrides: dict[str, object], error: str
) -> None:
    invoice = drafted(service_address=builders.address("9 Billing Rd"), **overrides)
    assert error in codes(invoice)
    version = len(invoice.pending)
    with pytest.raises(CannotSend) as caught:
        send(invoice)
    assert [code for code, _ in caught.value.problems] == [error]
    assert len(invoice.pending) == version and not invoice.is_sent


# --- editing and sending -------------------------------------------------------------------------


def test_each_edit_is_one_event_carrying_the_whole_invoice() -> None:
    invoice = drafted(labor=[])
    invoice.add_line("new", LineInput("Haul away", Decimal(1), 5000, taxable=False), EDIT)
    invoice.change_line("new", {"unit_price_cents": 4500}, EDIT)
    invoice.change_bill_to(builders.address("1 PM Plaza"), EDIT)
    invoice.set_due_date(date(2026, 4, 15), EDIT)
    invoice.add_note("Customer prefers ACH", EDIT)
    updates = [e for e in invoice.pending if isinstance(e, contracts.InvoiceUpdated)]
    assert [u.change for u in updates] == [
        "line_added",
        "line_changed",
        "bill_to",
        "due_date",
        "note",
    ]
    last = updates[-2]
    assert last.totals.total_cents == 129900 + 9418 + 4500
    assert last.customer.billing_address.line1 == "1 PM Plaza"
    assert updates[1].summary == "changed Haul away: 1 × $50.00 → 1 × $45.00"
    assert (
        updates[-1].note == "Customer prefers ACH" and updates[-1].updated_by == "Olivia (office)"
    )
    folded = Invoice.from_history(invoice.invoice_id, invoice.pending)
    assert folded.lines == invoice.lines and folded.due_date == date(2026, 4, 15)
    assert review(folded, TODAY, 500_000).due_date == date(2026, 4, 15)


def test_send_numbers_fixes_the_due_date_and_carries_everything() -> None:
    invoice = drafted()
    send(invoice)
    sent = invoice.pending[-1]
    assert isinstance(sent, contracts.InvoiceSent)
    assert (sent.invoice_number, sent.due_date, sent.job_id) == (
        "INV-2026-000001",
        TODAY + timedelta(days=30),
        "job-1",
    )
    assert sent.customer.email == "pat@example.com" and sent.pay_url.endswith("/p/tok")
    assert sent.totals == invoice.totals() and sent.shop is not None
    assert invoice.status_on(TODAY) is InvoiceStatus.SENT
    with pytest.raises(AlreadySent):
        send(invoice, "INV-2026-000002")


def test_a_withdrawn_or_void_invoice_cannot_be_edited_or_sent() -> None:
    invoice = drafted()
    invoice.void("Olivia", NOW, "duplicate")
    with pytest.raises(NotEditable):
        invoice.add_line("x", LineInput("x", Decimal(1), 1), EDIT)
    with pytest.raises(NotEditable):
        send(invoice)
    invoice.add_note("kept for the record", EDIT)  # notes still allowed
    with pytest.raises(UnknownInvoice):
        Invoice("nothing").add_line("x", LineInput("x", Decimal(1), 1), EDIT)


# --- payments, in any order ----------------------------------------------------------------------


def payment_facts(invoice_id: str) -> list[contracts.Event]:
    at = NOW + timedelta(days=1)
    common = {"invoice_id": invoice_id, "shop_id": SHOP}
    return [
        contracts.InvoiceViewed(viewed_at=at, **common),
        contracts.PaymentInitiated(
            payment_id="p1", initiated_at=at, amount_cents=50_000, method="ach", **common
        ),
        contracts.PaymentReceived(
            payment_id="p1",
            received_at=at + timedelta(days=3),
            amount_cents=50_000,
            method="ach",
            **common,
        ),
        contracts.PaymentReceived(
            payment_id="p2", received_at=at, amount_cents=20_000, method="card", **common
        ),
        contracts.RefundIssued(
            refund_id="r1",
            payment_id="p2",
            refunded_at=at + timedelta(days=5),
            amount_cents=5_000,
            **common,
        ),
    ]


def test_payment_facts_in_every_order_and_twice_converge() -> None:
    base = drafted()
    send(base)
    outcomes = set()
    facts = payment_facts(base.invoice_id)
    for order in itertools.permutations(facts):
        invoice = Invoice.from_history(base.invoice_id, list(base.pending))
        for event in (*order, *order):
            invoice.record(event)
        money = invoice.balance()
        outcomes.add(
            (invoice.base_status(), money.paid_cents, money.refunded_cents, invoice.pending_cents)
        )
    assert outcomes == {(InvoiceStatus.PARTIALLY_REFUNDED, 70_000, 5_000, 0)}


def test_statuses_from_sent_to_paid() -> None:
    invoice = drafted(line_items=[builders.line_item(unit_price_cents=10_000, rate="0")], labor=[])
    send(invoice)
    common = {"invoice_id": invoice.invoice_id, "shop_id": SHOP, "method": "ach"}
    assert invoice.record(
        contracts.InvoiceViewed(invoice_id=invoice.invoice_id, shop_id=SHOP, viewed_at=NOW)
    )
    assert invoice.status_on(TODAY) is InvoiceStatus.VIEWED
    invoice.record(
        contracts.PaymentInitiated(payment_id="a", initiated_at=NOW, amount_cents=4000, **common)
    )
    assert invoice.status_on(TODAY) is InvoiceStatus.PAYMENT_PENDING
    invoice.record(
        contracts.PaymentFailed(payment_id="a", failed_at=NOW, amount_cents=4000, **common)
    )
    assert invoice.status_on(TODAY) is InvoiceStatus.VIEWED
    late = TODAY + timedelta(days=31)
    assert invoice.status_on(late) is InvoiceStatus.OVERDUE
    invoice.record(
        contracts.PaymentReceived(payment_id="b", received_at=NOW, amount_cents=4000, **common)
    )
    assert invoice.status_on(TODAY) is InvoiceStatus.PARTIALLY_PAID
    assert invoice.status_on(late) is InvoiceStatus.OVERDUE
    invoice.record(
        contracts.PaymentReceived(payment_id="c", received_at=NOW, amount_cents=6000, **common)
    )
    assert invoice.status_on(late) is InvoiceStatus.PAID and invoice.balance().balance_cents == 0
    assert not invoice.record(
        contracts.PaymentReceived(payment_id="c", received_at=NOW, amount_cents=6000, **common)
    )


def test_an_ach_return_after_clearing_opens_the_balance_again() -> None:
    invoice = drafted(line_items=[builders.line_item(unit_price_cents=10_000, rate="0")], labor=[])
    send(invoice)
    common = {
        "invoice_id": invoice.invoice_id,
        "shop_id": SHOP,
        "method": "ach",
        "amount_cents": 10_000,
    }
    returned = contracts.PaymentFailed(payment_id="a", failed_at=NOW + timedelta(days=6), **common)
    cleared = contracts.PaymentReceived(
        payment_id="a", received_at=NOW + timedelta(days=3), **common
    )
    for order in ((cleared, returned), (returned, cleared)):
        again = Invoice.from_history(invoice.invoice_id, list(invoice.pending))
        for event in order:
            again.record(event)
        assert again.base_status() is InvoiceStatus.SENT and again.balance().balance_cents == 10_000


def test_a_correction_may_not_go_below_what_was_paid_and_a_paid_invoice_is_not_voided() -> None:
    invoice = drafted(line_items=[builders.line_item(unit_price_cents=10_000, rate="0")], labor=[])
    send(invoice)
    invoice.record(
        contracts.PaymentReceived(
            payment_id="p",
            invoice_id=invoice.invoice_id,
            shop_id=SHOP,
            received_at=NOW,
            amount_cents=8_000,
            method="card",
        )
    )
    before = len(invoice.pending)
    with pytest.raises(BelowAmountPaid):
        invoice.change_line(invoice.lines[0].line_id, {"unit_price_cents": 7_000}, EDIT)
    with pytest.raises(CannotVoid):
        invoice.void("Olivia", NOW, "oops")
    assert len(invoice.pending) == before
    invoice.change_line(invoice.lines[0].line_id, {"unit_price_cents": 9_000}, EDIT)
    correction = invoice.pending[-1]
    assert isinstance(correction, contracts.InvoiceUpdated) and correction.sent
    assert invoice.balance().balance_cents == 1_000


# --- handlers: numbering, estimates, timeline ---------------------------------------------------


def test_sends_in_one_shop_take_consecutive_numbers_and_a_refused_send_takes_none() -> None:
    uow = FakeInvoicingUnitOfWork()
    req = handlers.Request(SHOP, "Olivia")
    ids = []
    for n in range(3):
        job = builders.job_closed(f"job-{n}")
        handlers.when_job_is_closed_draft_invoice(builders.job_closed_envelope(job), uow, clock)
        ids.append(invoice_id_for_job(SHOP, f"job-{n}"))
    empty = builders.job_closed("job-empty", line_items=[], labor=[])
    handlers.when_job_is_closed_draft_invoice(builders.job_closed_envelope(empty), uow, clock)
    with pytest.raises(CannotSend):
        handlers.send_invoice(req, invoice_id_for_job(SHOP, "job-empty"), "http://pay", uow, clock)
    numbers = [
        handlers.send_invoice(req, invoice_id, "http://pay/", uow, clock).number
        for invoice_id in ids
    ]
    assert numbers == ["INV-2026-000001", "INV-2026-000002", "INV-2026-000003"]
    sent = [e.event for e in uow.invoices.published if isinstance(e.event, contracts.InvoiceSent)]
    assert len({s.pay_token for s in sent}) == 3
    assert all(
        s.pay_url == f"http://pay/p/{s.pay_token}" and len(s.pay_token or "") >= 22 for s in sent
    )


def test_another_shops_invoice_is_unknown_to_every_command() -> None:
    uow = FakeInvoicingUnitOfWork()
    handlers.when_job_is_closed_draft_invoice(builders.job_closed_envelope(), uow, clock)
    invoice_id = next(iter(uow.invoices.streams))
    other = handlers.Request("other-shop", "Mallory")
    with pytest.raises(UnknownInvoice):
        handlers.send_invoice(other, invoice_id, "http://pay", uow, clock)
    with pytest.raises(UnknownInvoice):
        handlers.void_invoice(other, invoice_id, "", uow, clock)
    with pytest.raises(UnknownInvoice):
        handlers.edit_invoice(other, invoice_id, lambda inv, e: inv.add_note("x", e), uow, clock)
    assert uow.numbers.last == {}


def test_an_approved_estimate_becomes_one_invoice_unless_asked_again() -> None:
    uow = FakeInvoicingUnitOfWork()
    approved = contracts.EstimateApproved(
        estimate_id="est-1",
        shop_id=SHOP,
        approved_at=NOW,
        approved_by="Pat",
        customer=builders.customer_snapshot(),
        service_address=builders.address(),
        line_items=[builders.line_item()],
        labor=[],
    )
    handlers.when_estimate_is_approved_keep_it(
        Envelope(event=approved, tenant=SHOP, source="/jobs"), uow
    )
    req = handlers.Request(SHOP, "Olivia")
    first, made = handlers.draft_from_estimate(req, "est-1", False, uow, clock)
    same, made_again = handlers.draft_from_estimate(req, "est-1", False, uow, clock)
    another, made_another = handlers.draft_from_estimate(req, "est-1", True, uow, clock)
    assert (made, made_again, made_another) == (True, False, True)
    assert first.invoice_id == same.invoice_id != another.invoice_id
    assert first.source == "estimate" and first.estimate_id == "est-1"
    with pytest.raises(handlers.UnknownEstimate):
        handlers.draft_from_estimate(handlers.Request("other", "x"), "est-1", False, uow, clock)


def test_the_timeline_tells_the_story_in_plain_words() -> None:
    invoice = drafted()
    invoice.add_note("Called the tenant", EDIT)
    send(invoice)
    invoice.record(
        contracts.PaymentReceived(
            payment_id="p",
            invoice_id=invoice.invoice_id,
            shop_id=SHOP,
            received_at=NOW,
            amount_cents=10_000,
            method="card",
        )
    )
    entries = timeline(invoice.pending)
    assert [(e.who, e.what) for e in entries] == [
        ("FieldPay", "drafted from the closed job, $1,668.18"),
        ("Olivia (office)", "internal note"),
        ("Olivia", "sent INV-2026-000001, due 2026-04-01"),
        ("customer", "paid $100.00 by card"),
    ]
    assert entries[1].note == "Called the tenant"


# --- the one money function ---------------------------------------------------------------------

amounts = st.integers(min_value=1, max_value=10**9)


@hypothesis_settings(max_examples=200, deadline=None, database=None)
@given(total=amounts, paid=st.lists(amounts, max_size=5), refunded=st.lists(amounts, max_size=3))
def test_balance_is_total_minus_paid_plus_refunded(
    total: int, paid: list[int], refunded: list[int]
) -> None:
    money = invoice_balance(total, paid, refunded)
    assert money.balance_cents == total - sum(paid) + sum(refunded)
    assert money.paid_cents - money.refunded_cents == total - money.balance_cents


def test_a_refund_in_the_timeline_says_who_and_why() -> None:
    refund = contracts.RefundIssued(
        refund_id="r",
        payment_id="p",
        invoice_id="i",
        shop_id=SHOP,
        refunded_at=NOW,
        amount_cents=2_500,
        reason="scratched the floor",
        refunded_by="Maria (owner)",
    )
    (entry,) = timeline([refund])
    assert (entry.who, entry.what) == ("Maria (owner)", "refunded $25.00: scratched the floor")


def test_reminders_and_delivery_reports_are_in_the_timeline_once() -> None:
    invoice = drafted()
    send(invoice)
    about = {"invoice_id": invoice.invoice_id, "shop_id": SHOP}
    reminder = contracts.ReminderSent(
        reminder_id="r-7",
        **about,
        sent_at=NOW,
        channels=["sms", "email"],
        step_days=7,
        balance_cents=4_819,
    )
    nudge = contracts.ReminderSent(
        reminder_id="n-1",
        **about,
        sent_at=NOW,
        channels=["email"],
        requested_by="Ana",
        balance_cents=4_819,
    )
    message = {**about, "message_id": "m-1", "channel": "sms", "kind": "reminder", "to": "•••0142"}
    delivered = contracts.MessageDelivered(**message, delivered_at=NOW)
    bounced = contracts.MessageFailed(
        **{**message, "message_id": "m-2", "channel": "email", "to": "d•••@example.com"},
        failed_at=NOW,
        status="bounced",
        reason="550 5.1.1 no such user",
    )
    for fact in (reminder, nudge, delivered, bounced):
        assert invoice.record(fact)
        assert not invoice.record(fact)  # delivered again: known
    entries = timeline(invoice.pending)[-4:]
    assert [(e.who, e.what) for e in entries] == [
        ("FieldPay", "reminder 7 days after the due date sent by text and email ($48.19 left)"),
        ("Ana", "nudged the customer by email ($48.19 left)"),
        ("FieldPay", "reminder text to •••0142 delivered"),
        ("FieldPay", "reminder email to d•••@example.com bounced (550 5.1.1 no such user)"),
    ]


# --- bounds: values no invoice can have -----------------------------------------------------------


def test_a_due_date_years_away_is_refused_naming_the_field() -> None:
    invoice = drafted()
    for far in (date(9999, 12, 31), date(2031, 3, 4), date(2021, 3, 1)):
        with pytest.raises(OutOfBounds) as caught:
            invoice.set_due_date(far, EDIT)
        assert caught.value.field == "due_date" and "5 years" in caught.value.reason
    invoice.set_due_date(date(2031, 3, 1), EDIT)  # within five years: fine
    assert "due_date" not in codes(invoice)


def test_an_invoice_above_the_shop_maximum_is_refused_and_cannot_be_sent() -> None:
    invoice = drafted()
    line = LineInput("Chiller", Decimal(1), 60_000_000_000_000, True, Decimal(0))
    with pytest.raises(OutOfBounds) as caught:
        invoice.add_line("huge", line, EDIT)
    assert caught.value.field == "lines" and "$1,000,000.00" in caught.value.reason
    big = drafted(line_items=[builders.line_item(unit_price_cents=100_000_001)])
    assert "total" in codes(big)  # a job closed in the field with it: Send is refused
    with pytest.raises(CannotSend):
        send(big)
