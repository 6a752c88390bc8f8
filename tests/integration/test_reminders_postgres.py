"""Reminders on real PostgreSQL at injected dates: the scheduler's pass (two at once, too) queues
each step once on its day, follows payments, ACH clearing and failing, voids, corrections and STOP
as the consumer records them; the queued reminders go out through the official Twilio and
SendGrid SDKs (to the local capture server) carrying the pay link; ReminderSent is in the outbox."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import pytest
import requests
from psycopg_pool import ConnectionPool

from services.notifications.adapters.postgres import (
    PooledAutomations,
    PooledMessageStore,
    PooledReminderStore,
    QueueOnConnection,
)
from services.notifications.adapters.providers import SendGridEmail, TwilioSms
from services.notifications.domain.reminders import DEFAULTS, Automations, Policy, Step
from services.notifications.service_layer import handlers
from shared import contracts
from shared.db import make_pool
from shared.envelope import Envelope
from tests.integration.helpers import ServiceDb
from tests.unit import builders
from tests.unit.test_reminders import SHOP_TIME

pytestmark = pytest.mark.integration
TODAY = datetime.now(SHOP_TIME).date()
DUE = TODAY + timedelta(days=30)


def invoice(invoice_id: str, **customer: object) -> contracts.InvoiceSent:
    return contracts.InvoiceSent(
        invoice_id=invoice_id,
        shop_id="shop-1",
        invoice_number=f"INV-2026-{invoice_id}",
        sent_at=datetime.now(UTC),
        due_date=DUE,
        customer=builders.customer_snapshot(**customer),
        service_address=builders.address(),
        lines=[],
        totals=contracts.InvoiceTotals(subtotal_cents=20_000, tax_cents=0, total_cents=20_000),
        allowed_payment_methods=["card", "ach"],
        pay_url=f"https://pay.example.com/p/{invoice_id}-0123456789abcdef",
        shop=contracts.ShopBranding(name="Northwind HVAC", time_zone="America/Chicago"),
    )


@pytest.fixture
def pool(service_db: ServiceDb) -> Iterator[ConnectionPool]:
    p = make_pool(service_db("notifications"), min_size=1, max_size=6, name="reminders-test")
    yield p
    p.close()


def record(pool: ConnectionPool, *events: contracts.Event) -> None:
    """As the consumer does, one event per transaction."""
    for event in events:
        with pool.connection() as conn:
            envelope = Envelope(event=event, tenant="shop-1", source="/test")
            if isinstance(event, contracts.InvoiceSent):
                handlers.when_invoice_is_sent_queue_messages(envelope, QueueOnConnection(conn))
            else:
                handlers.when_invoice_changes_record_it(envelope, QueueOnConnection(conn))


def on_day(days_from_due: int, hour: int = 9) -> datetime:
    return datetime.combine(DUE + timedelta(days=days_from_due), time(hour), SHOP_TIME)


def run_days(pool: ConnectionPool, first: int, last: int, hours: tuple[int, ...] = (9, 21)) -> None:
    for day in range(first, last + 1):
        for hour in hours:
            handlers.send_due_reminders(PooledReminderStore(pool), on_day(day, hour))


def reminders(pool: ConnectionPool, invoice_id: str) -> list[tuple[str, str, date]]:
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT step, channel, created_at FROM messages WHERE invoice_id = %s"
            " AND kind = 'reminder' ORDER BY created_at, channel DESC",
            (invoice_id,),
        ).fetchall()
    return [(r[0], r[1], r[2].astimezone(SHOP_TIME).date()) for r in rows]


def steps(pool: ConnectionPool, invoice_id: str) -> list[str]:
    return list(dict.fromkeys(step for step, _, _ in reminders(pool, invoice_id)))


def payment(invoice_id: str, state: type[contracts.Event], amount: int = 20_000) -> contracts.Event:
    at = {"initiated_at", "received_at", "failed_at"}
    field = next(f for f in state.model_fields if f in at)
    return state.model_validate(
        {
            "payment_id": f"pay-{invoice_id}",
            "invoice_id": invoice_id,
            "shop_id": "shop-1",
            field: datetime.now(UTC),
            "amount_cents": amount,
            "method": "ach",
        }
    )


def test_each_step_once_on_its_day_even_with_two_schedulers(pool: ConnectionPool) -> None:
    record(pool, invoice("inv-a"))
    for n in range(-5, 36):
        both = [
            threading.Thread(
                target=handlers.send_due_reminders,
                args=(PooledReminderStore(pool), on_day(n)),
            )
            for _ in range(2)
        ]
        for t in both:
            t.start()
        for t in both:
            t.join()

    def day(n: int) -> date:
        return DUE + timedelta(days=n)

    assert reminders(pool, "inv-a") == [
        ("-3", "email", day(-3)),
        ("+0", "sms", day(0)),
        ("+0", "email", day(0)),
        ("+3", "sms", day(3)),
        ("+3", "email", day(3)),
        ("+7", "sms", day(7)),
        ("+7", "email", day(7)),
        ("+14", "sms", day(14)),
        ("+14", "email", day(14)),
        ("+30", "sms", day(30)),
        ("+30", "email", day(30)),
    ]
    with pool.connection() as conn:
        told = conn.execute(
            "SELECT value::jsonb ->> 'step_days', topic FROM events"
            " WHERE event_type = 'ReminderSent' ORDER BY position"
        ).fetchall()
    assert told == [(str(d), "ReminderSent") for d in (-3, 0, 3, 7, 14, 30)]


def test_paid_void_clearing_failed_corrected_and_stopped(pool: ConnectionPool) -> None:
    ids = ("paid", "void", "ach", "moved", "stop")
    record(pool, *(invoice(i, phone=f"+1559555{n:04d}") for n, i in enumerate(ids)))
    run_days(pool, -1, 1)  # the day-0 step for all
    record(
        pool,
        payment("paid", contracts.PaymentReceived),
        contracts.InvoiceVoided(
            invoice_id="void", shop_id="shop-1", voided_at=datetime.now(UTC), voided_by="Ana"
        ),
        payment("ach", contracts.PaymentInitiated),
    )
    with pool.connection() as conn:
        conn.execute("INSERT INTO opted_out (phone) VALUES ('+15595550004')")
    moved = invoice("moved")
    fix = contracts.InvoiceUpdated(
        invoice_id="moved",
        shop_id="shop-1",
        updated_at=datetime.now(UTC),
        updated_by="Ana",
        change="due_date",
        summary="due date moved by 10 days",
        sent=True,
        customer=moved.customer,
        service_address=moved.service_address,
        lines=[],
        totals=moved.totals,
        allowed_payment_methods=["card"],
        due_date=DUE + timedelta(days=10),
    )
    record(pool, fix)
    run_days(pool, 2, 9)
    assert steps(pool, "paid") == steps(pool, "void") == steps(pool, "ach") == ["-3", "+0"]
    assert steps(pool, "moved") == ["-3", "+0"]  # +3 is now 13 days out
    stopped = reminders(pool, "stop")
    assert [(s, c) for s, c, _ in stopped if s == "+3"] == [("+3", "email")]
    # The bank debit is returned on day 9; a late copy of "initiated" changes nothing.
    record(
        pool, payment("ach", contracts.PaymentFailed), payment("ach", contracts.PaymentInitiated)
    )
    run_days(pool, 9, 14)
    assert steps(pool, "ach") == ["-3", "+0", "+7", "+14"]
    assert steps(pool, "moved") == ["-3", "+0", "+3"]
    assert steps(pool, "paid") == steps(pool, "void") == ["-3", "+0"]


def captured(pay_url: str) -> list[dict[str, object]]:
    answer = requests.get(os.environ["TWILIO_API_BASE"] + "/api/messages", timeout=10).json()
    return [m for m in answer if pay_url in str(m)]


def test_a_shops_own_schedule_goes_out_through_the_sdks_with_the_pay_link(
    pool: ConnectionPool, capture_server: str
) -> None:
    mine = Automations(
        {
            **DEFAULTS.policies,
            "residential": Policy(
                True,
                (
                    Step(
                        2,
                        ("sms", "email"),
                        "{customer}, {balance} is {days_late} days late: {link}",
                    ),
                ),
            ),
        }
    )
    PooledAutomations(pool).save("shop-1", mine, "owner")
    assert PooledAutomations(pool).get("shop-1") == mine
    sent = invoice("inv-own", phone="+15595550142", email="dana@example.com")
    record(pool, sent)
    run_days(pool, -3, 3)
    assert steps(pool, "inv-own") == ["+2"]
    store = PooledMessageStore(pool)
    sms = TwilioSms("ACtest", "token", "+15005550006", capture_server)
    email = SendGridEmail("SG.test", "invoices@fieldpay.example", capture_server)
    while handlers.send_next(store, sms, email, datetime.now(UTC)):
        pass
    texts = [m for m in captured(sent.pay_url) if m["channel"] == "sms"]
    assert [m["body"] for m in texts][-1] == f"Pat Doe, $200.00 is 2 days late: {sent.pay_url}"
    mails = [m for m in captured(sent.pay_url) if m["channel"] == "email"]
    payload = mails[-1]["payload"]
    assert isinstance(payload, dict)
    assert payload["subject"] == "Reminder: invoice INV-2026-inv-own from Northwind HVAC — $200.00"
    assert payload["custom_args"]["message_id"]
    with pool.connection() as conn:
        statuses = conn.execute(
            "SELECT status, count(*) FROM messages WHERE invoice_id = 'inv-own' GROUP BY status"
        ).fetchall()
    assert statuses == [("sent", 4)]  # the invoice's SMS and email, the reminder's two


def test_a_message_left_half_sent_is_found_at_the_provider_not_sent_again(
    pool: ConnectionPool, capture_server: str
) -> None:
    sent = invoice("inv-crash", phone="+15595550143", email="erin@example.com")
    record(pool, sent)
    store = PooledMessageStore(pool)
    sms = TwilioSms("ACtest", "token", "+15005550006", capture_server)
    email = SendGridEmail("SG.test", "invoices@fieldpay.example", capture_server)
    for _ in range(2):  # "the process died" after each provider took its message
        claimed = store.claim_next()
        assert claimed is not None
        m = claimed.message
        if m.channel == "sms":
            sms.send(m.recipient, m.body, m.message_id)
        else:
            email.send(handlers.invoice_email(claimed))
    assert store.claim_next() is None
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert handlers.reconcile(store, sms, email, later, timedelta(minutes=2)) == 2
    while handlers.send_next(store, sms, email, later):
        pass
    assert sorted(str(m["channel"]) for m in captured(sent.pay_url)) == ["email", "sms"]
    with pool.connection() as conn:
        statuses = conn.execute(
            "SELECT DISTINCT status FROM messages WHERE invoice_id = 'inv-crash'"
        ).fetchall()
    assert statuses == [("sent",)]
