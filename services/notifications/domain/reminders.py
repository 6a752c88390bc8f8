"""Reminders (Settings → Automations): per shop, a schedule of steps relative to the due date for
each customer type, each step with its channels and its message. Which step is due for an invoice
at a given moment is decided here, from the injected clock's ``now``. Standard library and the
contracts only.

Decisions (docs/architecture.md, Notifications):
- A step is due on its day (due date + days, in the shop's time zone) once the shop's quiet hours
  are over that morning, and only if its day is after the day the invoice was sent (the invoice's
  own message just went out).
- Catch-up: after downtime, only the latest missed step goes out (once); older missed steps are
  not sent late in a burst.
- Texts wait out quiet hours; emails do not. Nothing goes out within the hour after any message.
- Reminders stop when the invoice is paid or void, pause while a payment is clearing (ACH), and
  resume if that payment fails."""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.notifications.domain.messages import NUDGE_GAP, Channel, Message, reminder_messages
from services.notifications.domain.standing import Standing
from shared.contracts import InvoiceSent
from shared.money import format_cents

CustomerType = str
CUSTOMER_TYPES: tuple[CustomerType, ...] = ("residential", "commercial", "property_manager")
PLACEHOLDERS = ("shop", "customer", "invoice", "amount", "balance", "due_date", "days_late", "link")
MAX_MESSAGE = 480


class BadTemplate(ValueError):
    """A reminder message that cannot be rendered (unknown placeholder, no pay link)."""


@dataclass(frozen=True)
class Step:
    days: int
    """Relative to the due date: -3 three days before, 0 on the day, 7 a week after."""
    channels: tuple[Channel, ...]
    message: str

    @property
    def key(self) -> str:
        return f"{self.days:+d}"


@dataclass(frozen=True)
class Policy:
    enabled: bool
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Automations:
    policies: dict[CustomerType, Policy]
    quiet_start: time = time(20, 0)
    quiet_end: time = time(8, 0)

    def policy_for(self, customer_type: CustomerType) -> Policy:
        return self.policies.get(customer_type) or DEFAULTS.policies["residential"]

    def is_quiet(self, local: time) -> bool:
        """Within quiet hours (which may wrap past midnight, 20:00–08:00)."""
        if self.quiet_start <= self.quiet_end:
            return self.quiet_start <= local < self.quiet_end
        return local >= self.quiet_start or local < self.quiet_end


BEFORE = "{shop}: a reminder that invoice {invoice} for {balance} is due {due_date}. Pay: {link}"
ON_THE_DAY = "{shop}: invoice {invoice} for {balance} is due today. Pay: {link}"
AFTER = (
    "{shop}: invoice {invoice} for {balance} was due {due_date} ({days_late} days ago). Pay: {link}"
)
FINAL = (
    "{shop}: invoice {invoice} for {balance} is {days_late} days past due. Please pay today or "
    "call us to talk it over. Pay: {link}"
)
BOTH: tuple[Channel, ...] = ("sms", "email")
EMAIL: tuple[Channel, ...] = ("email",)


def _steps(*steps: tuple[int, tuple[Channel, ...], str]) -> tuple[Step, ...]:
    return tuple(Step(days, channels, message) for days, channels, message in steps)


DEFAULTS = Automations(
    policies={
        # Homeowners answer texts: a heads-up before, then text and email after.
        "residential": Policy(
            True,
            _steps(
                (-3, EMAIL, BEFORE),
                (0, BOTH, ON_THE_DAY),
                (3, BOTH, AFTER),
                (7, BOTH, AFTER),
                (14, BOTH, AFTER),
                (30, BOTH, FINAL),
            ),
        ),
        # Accounts payable works from email; a text only when it is a month late.
        "commercial": Policy(
            True,
            _steps(
                (0, EMAIL, ON_THE_DAY), (7, EMAIL, AFTER), (14, EMAIL, AFTER), (30, BOTH, FINAL)
            ),
        ),
        "property_manager": Policy(
            True,
            _steps(
                (0, EMAIL, ON_THE_DAY), (7, EMAIL, AFTER), (15, EMAIL, AFTER), (30, BOTH, FINAL)
            ),
        ),
    }
)


def check_template(message: str) -> None:
    """Only the known placeholders, and the pay link always."""
    if len(message) > MAX_MESSAGE:
        raise BadTemplate(f"at most {MAX_MESSAGE} characters")
    try:
        fields = [f for f in string.Formatter().parse(message) if f[1] is not None]
    except ValueError as exc:
        raise BadTemplate(f"{exc} (write {{{{ and }}}} for a literal brace)") from exc
    if any(spec or conversion for _, _, spec, conversion in fields):
        raise BadTemplate("placeholders take no format, e.g. {balance}")
    names = [name for _, name, _, _ in fields]
    unknown = [n for n in names if n not in PLACEHOLDERS]
    if unknown:
        known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        raise BadTemplate(f"unknown placeholder {{{unknown[0]}}}; use {known}")
    if "link" not in names:
        raise BadTemplate("every reminder carries the pay link: add {link}")


@dataclass(frozen=True)
class Due:
    step: Step
    channels: tuple[Channel, ...]


def due_reminder(standing: Standing, automations: Automations, now: datetime) -> Due | None:
    """The step (and which of its channels) to send now, or None."""
    if standing.voided or standing.clearing or standing.balance_cents <= 0:
        return None
    if standing.last_message_at is not None and now - standing.last_message_at < NUDGE_GAP:
        return None
    invoice = standing.invoice
    policy = automations.policy_for(invoice.customer.customer_type)
    if not policy.enabled:
        return None
    local = now.astimezone(standing.zone)
    step = _latest_step(policy, invoice, local, automations.quiet_end, standing.zone)
    if step is None:
        return None
    channels = tuple(
        c
        for c in step.channels
        if (step.key, c) not in standing.done and _reachable(standing, c, automations, local)
    )
    return Due(step, channels) if channels else None


def _latest_step(
    policy: Policy, invoice: InvoiceSent, local: datetime, day_starts: time, zone: ZoneInfo
) -> Step | None:
    today = local.date() if local.time() >= day_starts else local.date() - timedelta(days=1)
    sent_day = invoice.sent_at.astimezone(zone).date()
    eligible = [s for s in policy.steps if sent_day < step_day(invoice.due_date, s) <= today]
    return max(eligible, key=lambda s: s.days, default=None)


def step_day(due: date, step: Step) -> date:
    return due + timedelta(days=step.days)


def _reachable(
    standing: Standing, channel: Channel, automations: Automations, local: datetime
) -> bool:
    customer = standing.invoice.customer
    if channel == "email":
        return bool(customer.email)
    return (
        bool(customer.phone) and not standing.opted_out and not automations.is_quiet(local.time())
    )


def render(message: str, standing: Standing, now: datetime) -> str:
    """The step's message with the invoice's figures (the balance left, not the first total)."""
    invoice = standing.invoice
    late = (now.astimezone(standing.zone).date() - invoice.due_date).days
    values = {
        "shop": standing.shop_name,
        "customer": invoice.customer.name,
        "invoice": invoice.invoice_number,
        "amount": format_cents(invoice.totals.total_cents, invoice.currency),
        "balance": format_cents(standing.balance_cents, invoice.currency),
        "due_date": f"{invoice.due_date:%b} {invoice.due_date.day}",
        "days_late": str(max(late, 0)),
        "link": invoice.pay_url,
    }
    return message.format_map(values)


def reminder_for(standing: Standing, due: Due, now: datetime) -> list[Message]:
    """The step's messages on the channels due now (each step's ids repeat: queued once)."""
    words = render(due.step.message, standing, now)
    key = f"reminder:{due.step.key}"
    return reminder_messages(standing, "reminder", list(due.channels), words, key)
