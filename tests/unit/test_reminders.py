"""Reminders at injected dates, on a fake store: the scheduler is run every hour of simulated
weeks, and what it queued is checked day by day."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from services.notifications.domain.messages import Message
from services.notifications.domain.reminders import (
    DEFAULTS,
    Automations,
    BadTemplate,
    Policy,
    Step,
    check_template,
    due_reminder,
)
from services.notifications.domain.standing import Standing
from services.notifications.service_layer import handlers
from services.notifications.service_layer.automations import AutomationsForm
from services.notifications.service_layer.store import ReminderStore
from shared import contracts
from tests.unit import builders

pytestmark = pytest.mark.unit
SHOP_TIME = ZoneInfo("America/Chicago")


def invoice(
    sent_on: date = date(2026, 3, 2),
    due: date = date(2026, 4, 1),
    customer_type: str = "residential",
    **customer: object,
) -> contracts.InvoiceSent:
    return contracts.InvoiceSent(
        invoice_id="inv-1",
        shop_id="shop-1",
        invoice_number="INV-2026-000123",
        sent_at=datetime.combine(sent_on, time(10), SHOP_TIME),
        due_date=due,
        customer=builders.customer_snapshot(customer_type=customer_type, **customer),
        service_address=builders.address(),
        lines=[],
        totals=contracts.InvoiceTotals(subtotal_cents=44_000, tax_cents=819, total_cents=44_819),
        allowed_payment_methods=["card", "ach"],
        pay_url="https://pay.example.com/p/AbCdEfGhIjKlMnOpQrStUv",
        shop=contracts.ShopBranding(name="Northwind HVAC", time_zone="America/Chicago"),
    )


class Reminders(ReminderStore):
    """One invoice's standing; what is queued updates it as the database would."""

    def __init__(self, standing: Standing, automations: Automations = DEFAULTS) -> None:
        self.standing = standing
        self.settings = automations
        self.queued: list[tuple[datetime, Message]] = []
        self.facts: list[contracts.ReminderSent] = []

    def standings(self) -> Iterator[Standing]:
        s = self.standing
        if not s.voided and s.balance_cents > 0:
            yield s

    def automations(self, shop_id: str) -> Automations:
        return self.settings

    def queue_reminder(
        self, messages: list[Message], fact: contracts.ReminderSent, quiet_since: datetime
    ) -> int:
        last = self.standing.last_message_at
        if last is not None and last > quiet_since:
            return 0
        known = {m.message_id for _, m in self.queued}
        new = [m for m in messages if m.message_id not in known]
        self.queued += [(fact.sent_at, m) for m in new]
        if new:
            self.facts.append(fact)
            done = self.standing.done | {(m.step or "", m.channel) for m in new}
            self.standing = dataclasses.replace(
                self.standing, done=done, last_message_at=fact.sent_at
            )
        return len(new)

    def change(self, **facts: object) -> None:
        self.standing = dataclasses.replace(self.standing, **facts)  # type: ignore[arg-type]

    def sent_steps(self) -> list[tuple[date, str, str]]:
        """(shop's day, step, channel) of everything queued."""
        return [(at.astimezone(SHOP_TIME).date(), m.step or "", m.channel) for at, m in self.queued]


def run(store: Reminders, start: datetime, end: datetime, every: timedelta = timedelta(hours=1)):
    now = start
    while now <= end:
        handlers.send_due_reminders(store, now)
        now += every


def local(day: date, hour: int = 0) -> datetime:
    return datetime.combine(day, time(hour), SHOP_TIME).astimezone(UTC)


def test_each_step_fires_once_on_its_day_with_the_pay_link() -> None:
    store = Reminders(Standing(invoice()))
    run(store, local(date(2026, 3, 2)), local(date(2026, 5, 10)))
    d = date
    assert store.sent_steps() == [
        (d(2026, 3, 29), "-3", "email"),
        (d(2026, 4, 1), "+0", "sms"),
        (d(2026, 4, 1), "+0", "email"),
        (d(2026, 4, 4), "+3", "sms"),
        (d(2026, 4, 4), "+3", "email"),
        (d(2026, 4, 8), "+7", "sms"),
        (d(2026, 4, 8), "+7", "email"),
        (d(2026, 4, 15), "+14", "sms"),
        (d(2026, 4, 15), "+14", "email"),
        (d(2026, 5, 1), "+30", "sms"),
        (d(2026, 5, 1), "+30", "email"),
    ]
    assert all(
        m.body.count("https://pay.example.com/p/AbCdEfGhIjKlMnOpQrStUv") == 1
        for _, m in store.queued
    )
    first_text = next(m for _, m in store.queued if m.channel == "sms")
    assert first_text.body == (
        "Northwind HVAC: invoice INV-2026-000123 for $448.19 is due today. "
        "Pay: https://pay.example.com/p/AbCdEfGhIjKlMnOpQrStUv"
    )
    week_late = next(m for _, m in store.queued if m.step == "+7" and m.channel == "email")
    assert week_late.subject == "Reminder: invoice INV-2026-000123 from Northwind HVAC — $448.19"
    assert "was due Apr 1 (7 days ago)" in week_late.body
    assert [f.step_days for f in store.facts] == [-3, 0, 3, 7, 14, 30]


def test_no_text_in_quiet_hours_in_the_shops_time_zone() -> None:
    store = Reminders(Standing(invoice()))
    run(store, local(date(2026, 3, 2)), local(date(2026, 5, 10)), timedelta(minutes=20))
    text_hours = {at.astimezone(SHOP_TIME).time() for at, m in store.queued if m.channel == "sms"}
    assert text_hours and all(time(8) <= t < time(20) for t in text_hours)
    # A scheduler back at 22:00 on the day: the email goes, the text waits for 08:00.
    late = Reminders(Standing(invoice()))
    handlers.send_due_reminders(late, local(date(2026, 4, 1), 22))
    assert late.sent_steps() == [(date(2026, 4, 1), "+0", "email")]
    handlers.send_due_reminders(late, local(date(2026, 4, 2), 7))
    handlers.send_due_reminders(late, local(date(2026, 4, 2), 8))
    assert late.sent_steps()[1:] == [(date(2026, 4, 2), "+0", "sms")]


def test_none_after_paid_or_void() -> None:
    paid = Reminders(Standing(invoice()))
    run(paid, local(date(2026, 3, 2)), local(date(2026, 4, 2)))
    paid.change(paid_cents=44_819)
    run(paid, local(date(2026, 4, 2)), local(date(2026, 6, 1)))
    assert {step for _, step, _ in paid.sent_steps()} == {"-3", "+0"}

    partly = Reminders(Standing(invoice()))
    partly.change(paid_cents=40_000)
    run(partly, local(date(2026, 3, 30)), local(date(2026, 4, 1), 12))
    assert "$48.19" in partly.queued[-1][1].body  # what is left, not the first total

    void = Reminders(Standing(invoice()))
    void.change(voided=True)
    run(void, local(date(2026, 3, 2)), local(date(2026, 6, 1)))
    assert void.queued == []


def test_paused_while_ach_clears_and_resumed_after_it_fails() -> None:
    store = Reminders(Standing(invoice()))
    run(store, local(date(2026, 3, 2)), local(date(2026, 4, 2)))
    store.change(clearing=True)  # the customer paid by bank debit on Apr 2
    run(store, local(date(2026, 4, 2)), local(date(2026, 4, 9)))
    assert {step for _, step, _ in store.sent_steps()} == {"-3", "+0"}
    store.change(clearing=False)  # returned on Apr 9: R01 insufficient funds
    run(store, local(date(2026, 4, 9), 9), local(date(2026, 4, 20)))
    assert store.sent_steps()[3:] == [
        (date(2026, 4, 9), "+7", "sms"),  # the latest missed step, not +3 as well
        (date(2026, 4, 9), "+7", "email"),
        (date(2026, 4, 15), "+14", "sms"),
        (date(2026, 4, 15), "+14", "email"),
    ]


def test_a_restarted_scheduler_catches_up_once_without_a_burst() -> None:
    store = Reminders(Standing(invoice()))
    run(store, local(date(2026, 3, 2)), local(date(2026, 4, 2)))
    # Down from Apr 2 to Apr 16 10:00 (+3, +7 and +14 were missed), then every minute for a while.
    run(store, local(date(2026, 4, 16), 10), local(date(2026, 4, 16), 12), timedelta(minutes=1))
    assert store.sent_steps()[3:] == [
        (date(2026, 4, 16), "+14", "sms"),
        (date(2026, 4, 16), "+14", "email"),
    ]


def test_steps_before_sending_are_skipped_and_a_nudge_delays_the_next_reminder() -> None:
    # Sent (due on receipt) on Apr 1: "on the day" is that day — the invoice itself just went.
    store = Reminders(Standing(invoice(sent_on=date(2026, 4, 1), due=date(2026, 4, 1))))
    run(store, local(date(2026, 4, 1)), local(date(2026, 4, 5)))
    assert [s for _, s, _ in store.sent_steps()] == ["+3", "+3"]
    nudged = Reminders(Standing(invoice(), last_message_at=local(date(2026, 4, 1), 8)))
    handlers.send_due_reminders(nudged, local(date(2026, 4, 1), 8) + timedelta(minutes=30))
    assert nudged.queued == []
    handlers.send_due_reminders(nudged, local(date(2026, 4, 1), 9))
    assert len(nudged.queued) == 2


def test_each_customer_type_has_its_policy_and_a_stopped_number_gets_email_only() -> None:
    commercial = Reminders(Standing(invoice(customer_type="commercial")))
    run(commercial, local(date(2026, 3, 2)), local(date(2026, 5, 10)))
    assert [(s, c) for _, s, c in commercial.sent_steps()] == [
        ("+0", "email"),
        ("+7", "email"),
        ("+14", "email"),
        ("+30", "sms"),
        ("+30", "email"),
    ]
    stopped = Reminders(Standing(invoice(), opted_out=True))
    run(stopped, local(date(2026, 3, 2)), local(date(2026, 5, 10)))
    assert {c for _, _, c in stopped.sent_steps()} == {"email"}
    off = Automations({"residential": Policy(False, DEFAULTS.policies["residential"].steps)})
    disabled = Reminders(Standing(invoice()), off)
    run(disabled, local(date(2026, 3, 2)), local(date(2026, 5, 10)))
    assert disabled.queued == []


def test_a_shops_own_schedule_and_quiet_hours() -> None:
    mine = Automations(
        {"residential": Policy(True, (Step(1, ("sms",), "Hi {customer}, {balance} due. {link}"),))},
        quiet_start=time(18),
        quiet_end=time(10),
    )
    store = Reminders(Standing(invoice()), mine)
    run(store, local(date(2026, 3, 2)), local(date(2026, 5, 10)), timedelta(minutes=30))
    ((at, message),) = store.queued
    assert at.astimezone(SHOP_TIME) == datetime(2026, 4, 2, 10, tzinfo=SHOP_TIME)
    assert (
        message.body == "Hi Pat Doe, $448.19 due. https://pay.example.com/p/AbCdEfGhIjKlMnOpQrStUv"
    )


def test_messages_are_checked_before_a_customer_could_see_them() -> None:
    check_template("{shop}: {balance} left on {invoice}, due {due_date}. {link}")
    for bad, reason in [
        ("Pay {amount}", "add {link}"),
        ("{link} {secret}", "unknown placeholder {secret}"),
        ("{link.__class__}", "unknown placeholder"),
        ("{link:>99999}", "take no format"),
        ("{link", "literal brace"),
    ]:
        with pytest.raises(BadTemplate, match=reason.replace("{", r"\{").replace("}", r"\}")):
            check_template(bad)
    form = AutomationsForm.of(DEFAULTS)
    assert form.to_domain() == DEFAULTS
    body = form.model_dump(mode="json")
    body["policies"]["commercial"]["steps"].append(body["policies"]["commercial"]["steps"][0])
    with pytest.raises(ValidationError, match="two steps on the same day"):
        AutomationsForm.model_validate(body)
    del body["policies"]["commercial"]
    with pytest.raises(ValidationError, match="missing commercial"):
        AutomationsForm.model_validate(body)


class TwoShops(Reminders):
    """A poisoned invoice (due 9999-12-31: its steps overflow the calendar) in one shop, due
    invoices in two others: the pass goes on past the poisoned one."""

    def __init__(self) -> None:
        super().__init__(Standing(invoice()))
        poisoned = invoice(due=date(9999, 12, 31)).model_copy(update={"invoice_id": "inv-bad"})
        other = invoice().model_copy(update={"invoice_id": "inv-2", "shop_id": "shop-2"})
        self.all = [Standing(invoice()), Standing(poisoned), Standing(other)]

    def standings(self) -> Iterator[Standing]:
        yield from self.all

    def queue_reminder(
        self, messages: list[Message], fact: contracts.ReminderSent, quiet_since: datetime
    ) -> int:
        self.facts.append(fact)
        return len(messages)


def test_one_poisoned_invoice_never_stops_the_pass_for_the_other_shops() -> None:
    store = TwoShops()
    with pytest.raises(OverflowError):  # the poison is real: its step day cannot be computed
        due_reminder(store.all[1], DEFAULTS, local(date(2026, 4, 4), 10))
    queued = handlers.send_due_reminders(store, local(date(2026, 4, 4), 10))
    assert queued > 0
    assert sorted(f.invoice_id for f in store.facts) == ["inv-1", "inv-2"]
