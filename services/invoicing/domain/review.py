"""The review before Send: the five things the office checks by eye, with what blocks Send
(errors) and what deserves a second look (warnings, notices). Derived, never stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from services.invoicing.domain.model import (
    DEFAULT_MAX_INVOICE_CENTS,
    Invoice,
    due_date_problem,
    total_problem,
)
from shared.contracts import Address, InvoiceLine, PaymentMethod

Level = Literal["error", "warning", "notice"]


@dataclass(frozen=True)
class Problem:
    level: Level
    code: str
    message: str
    line_id: str | None = None


@dataclass(frozen=True)
class Review:
    bill_to: Address
    service_address: Address
    addresses_differ: bool
    lines_added_in_field: list[str]
    payment_methods: list[PaymentMethod]
    card_max_cents: int
    due_date: date
    due_date_overridden: bool
    payment_terms: str
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[tuple[str, str]]:
        return [(p.code, p.message) for p in self.problems if p.level == "error"]

    @property
    def can_send(self) -> bool:
        return not self.errors


def review(
    invoice: Invoice,
    today: date,
    card_max_cents: int,
    max_invoice_cents: int = DEFAULT_MAX_INVOICE_CENTS,
) -> Review:
    customer, service = invoice.customer, invoice.service_address
    assert customer is not None and service is not None
    differ = _comparable(customer.billing_address) != _comparable(service)
    problems = [
        *_address_problems(differ),
        *_line_problems(invoice.lines, customer.tax_exempt),
        *_method_problems(invoice, card_max_cents),
        *_due_date_problems(invoice, today),
        *_blocking_problems(invoice),
        *_bound_problems(invoice, today, max_invoice_cents),
    ]
    return Review(
        bill_to=customer.billing_address,
        service_address=service,
        addresses_differ=differ,
        lines_added_in_field=[line.line_id for line in invoice.lines if line.added_by],
        payment_methods=invoice.allowed_payment_methods,
        card_max_cents=card_max_cents,
        due_date=_proposed_due_date(invoice, today) or date.max,
        due_date_overridden=invoice.due_date is not None and not invoice.is_sent,
        payment_terms=customer.payment_terms,
        problems=problems,
    )


def _comparable(address: Address) -> tuple[str, ...]:
    return tuple(" ".join(part.lower().split()) for part in address.model_dump().values())


def _address_problems(differ: bool) -> list[Problem]:
    if not differ:
        return []
    message = "Bill-to and service address differ (normal for property managers and landlords)"
    return [Problem("notice", "addresses_differ", message)]


def _line_problems(lines: list[InvoiceLine], customer_exempt: bool) -> list[Problem]:
    problems = []
    for line in lines:
        if line.added_by:
            message = f"{line.description}: added in the field by {line.added_by}"
            problems.append(Problem("notice", "line_added_in_field", message, line.line_id))
        if customer_exempt and line.taxable:
            message = f"{line.description} is taxed, but the customer is tax-exempt"
            problems.append(Problem("warning", "customer_exempt_line_taxed", message, line.line_id))
        if not customer_exempt and not line.taxable and line.kind != "labor":
            message = f"{line.description} is not taxed, but the customer is not tax-exempt"
            problems.append(Problem("warning", "line_exempt_customer_not", message, line.line_id))
    return problems


def _method_problems(invoice: Invoice, card_max_cents: int) -> list[Problem]:
    if "card" in invoice.allowed_payment_methods or invoice.payment_methods_chosen:
        return []
    if invoice.total_cents <= card_max_cents:
        return []
    message = (
        "Card is off: the total is above the shop's card limit (ACH only); turn it on if wanted"
    )
    return [Problem("notice", "card_off_above_limit", message)]


def _due_date_problems(invoice: Invoice, today: date) -> list[Problem]:
    if invoice.is_sent or invoice.due_date is None or invoice.due_date >= today:
        return []
    message = f"The due date {invoice.due_date.isoformat()} is already past"
    return [Problem("warning", "due_date_past", message)]


def _blocking_problems(invoice: Invoice) -> list[Problem]:
    customer = invoice.customer
    assert customer is not None
    problems = []
    if not invoice.lines:
        problems.append(Problem("error", "no_lines", "The invoice has no lines"))
    elif invoice.total_cents <= 0:
        problems.append(Problem("error", "total_not_positive", "The total must be above zero"))
    if not customer.email and not customer.phone:
        message = "The customer has no email and no mobile number to send it to"
        problems.append(Problem("error", "no_contact", message))
    return problems


def _bound_problems(invoice: Invoice, today: date, max_invoice_cents: int) -> list[Problem]:
    """Values no invoice can go out with, whichever way they came (a job closed in the field, an
    edit): a due date years away (it would break every date after it), an absurd total."""
    problems = []
    due = _proposed_due_date(invoice, today)
    if due is None or (why := due_date_problem(due, today)):
        message = "The due date must be within 5 years of the invoice's date"
        problems.append(Problem("error", "due_date", message))
    if why := total_problem(invoice.total_cents, max_invoice_cents):
        problems.append(Problem("error", "total", f"The total is too large: {why}"))
    return problems


def _proposed_due_date(invoice: Invoice, today: date) -> date | None:
    try:
        return invoice.proposed_due_date(today)
    except OverflowError:  # payment terms beyond the calendar
        return None
