"""In-memory fakes of the services' ports. Each subclasses the real abstract port, so a change to
a port's abstract methods breaks the fake (and the tests) instead of silently diverging."""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from datetime import datetime

from services.gateway.domain.access import StaffUser
from services.gateway.service_layer.ports import LastOwner, NameTaken, Users
from services.invoicing.domain.model import Invoice
from services.invoicing.domain.settings import ShopSettings
from services.invoicing.service_layer import unit_of_work as invoicing_ports
from services.jobs.domain.estimate import Estimate
from services.jobs.domain.model import Customer, Job, ServiceLocation
from services.jobs.domain.pricebook import PricebookItem, TaxRate
from services.jobs.service_layer import unit_of_work as jobs_ports
from services.payments.domain.ledger import Charge
from services.payments.domain.model import PayableInvoice
from services.payments.service_layer import unit_of_work as payments_ports
from services.payments.service_layer.gateway import (
    Intent,
    IntentState,
    PaymentGateway,
    SavedCard,
    UnknownToStripe,
    WebhookNotice,
)
from shared.contracts import CustomerSnapshot, EstimateApproved, Event
from shared.envelope import Envelope
from shared.eventstore import ConcurrencyConflict

# --- jobs --------------------------------------------------------------------------------------


class FakeCustomers(jobs_ports.CustomerRepository):
    def __init__(self, customers: list[Customer] | None = None) -> None:
        self.rows: dict[str, Customer] = {c.customer_id: c for c in customers or []}

    def add(self, customer: Customer) -> None:
        self.rows[customer.customer_id] = customer

    def get(self, shop_id: str, customer_id: str) -> Customer | None:
        customer = self.rows.get(customer_id)
        return customer if customer is not None and customer.shop_id == shop_id else None


class FakeServiceLocations(jobs_ports.ServiceLocationRepository):
    def __init__(self) -> None:
        self.rows: dict[str, ServiceLocation] = {}

    def add(self, location: ServiceLocation) -> None:
        self.rows[location.location_id] = location

    def get(self, shop_id: str, location_id: str) -> ServiceLocation | None:
        location = self.rows.get(location_id)
        return location if location is not None and location.shop_id == shop_id else None

    def for_customer(self, shop_id: str, customer_id: str) -> list[ServiceLocation]:
        return [
            loc
            for loc in self.rows.values()
            if loc.shop_id == shop_id and loc.customer_id == customer_id
        ]


class FakeTaxRates(jobs_ports.TaxRateRepository):
    def __init__(self) -> None:
        self.rows: dict[str, TaxRate] = {}

    def add(self, rate: TaxRate) -> None:
        self.rows[rate.tax_rate_id] = rate

    def for_shop(self, shop_id: str) -> list[TaxRate]:
        return [rate for rate in self.rows.values() if rate.shop_id == shop_id]

    def make_default(self, shop_id: str, tax_rate_id: str) -> None:
        for rate in self.for_shop(shop_id):
            self.rows[rate.tax_rate_id] = replace(rate, is_default=rate.tax_rate_id == tax_rate_id)


class FakePricebook(jobs_ports.PricebookRepository):
    def __init__(self) -> None:
        self.rows: dict[str, PricebookItem] = {}

    def add(self, item: PricebookItem) -> None:
        self.rows[item.item_id] = item

    def get_many(self, shop_id: str, item_ids: set[str]) -> list[PricebookItem]:
        return [i for i in self.rows.values() if i.shop_id == shop_id and i.item_id in item_ids]

    def save(self, item: PricebookItem) -> None:
        self.rows[item.item_id] = item


class FakeJobs(jobs_ports.JobRepository):
    """Stores copies, so a handler's in-memory changes only count once ``save`` is called, and
    ``save`` is optimistic on ``version`` exactly like the PostgreSQL adapter."""

    def __init__(self) -> None:
        self.rows: dict[str, Job] = {}
        self.conflicts_to_raise = 0
        self.saves = 0

    def add(self, job: Job) -> None:
        self.rows[job.job_id] = copy.deepcopy(job)

    def get(self, shop_id: str, job_id: str) -> Job | None:
        job = self.rows.get(job_id)
        return copy.deepcopy(job) if job is not None and job.shop_id == shop_id else None

    def save(self, job: Job) -> None:
        self.saves += 1
        if self.conflicts_to_raise > 0:
            self.conflicts_to_raise -= 1
            raise ConcurrencyConflict(job.job_id, job.version - 1)
        stored = self.rows[job.job_id]
        if stored.version != job.version - 1:
            raise ConcurrencyConflict(job.job_id, job.version - 1)
        self.rows[job.job_id] = copy.deepcopy(job)


class FakeEstimates(jobs_ports.EstimateRepository):
    def __init__(self) -> None:
        self.rows: dict[str, Estimate] = {}

    def add(self, estimate: Estimate) -> None:
        self.rows[estimate.estimate_id] = copy.deepcopy(estimate)

    def get(self, shop_id: str, estimate_id: str) -> Estimate | None:
        found = self.rows.get(estimate_id)
        return copy.deepcopy(found) if found is not None and found.shop_id == shop_id else None

    def save(self, estimate: Estimate) -> None:
        if self.rows[estimate.estimate_id].version != estimate.version - 1:
            raise ConcurrencyConflict(estimate.estimate_id, estimate.version - 1)
        self.rows[estimate.estimate_id] = copy.deepcopy(estimate)


@dataclass
class PublishedEvent:
    aggregate_id: str
    version: int
    envelope: Envelope


class FakeJobsUnitOfWork(jobs_ports.UnitOfWork):
    """Buffers writes until ``commit``; anything not committed when the block exits is dropped."""

    def __init__(self, customers: list[Customer] | None = None) -> None:
        self.customers = FakeCustomers(customers)
        self.locations = FakeServiceLocations()
        self.tax_rates: FakeTaxRates = FakeTaxRates()
        self.pricebook: FakePricebook = FakePricebook()
        self.jobs: FakeJobs = FakeJobs()
        self.estimates: FakeEstimates = FakeEstimates()
        self.published: list[PublishedEvent] = []
        self._pending: list[PublishedEvent] = []
        self.commits = 0
        self.rollbacks = 0

    def publish(self, aggregate_id: str, version: int, envelope: Envelope) -> None:
        self._pending.append(PublishedEvent(aggregate_id, version, envelope))

    def commit(self) -> None:
        self.published.extend(self._pending)
        self._pending.clear()
        self.commits += 1

    def rollback(self) -> None:
        self._pending.clear()
        self.rollbacks += 1


# --- invoicing ---------------------------------------------------------------------------------


class FakeInvoices(invoicing_ports.InvoiceRepository):
    """Event streams in memory, with the same optimistic append rule as the event store."""

    def __init__(self) -> None:
        self.streams: dict[str, list[Envelope]] = {}
        self.published: list[Envelope] = []
        self.saves = 0

    def get(self, invoice_id: str) -> Invoice:
        history: list[Event] = [env.event for env in self.streams.get(invoice_id, [])]
        return Invoice.from_history(invoice_id, history)

    def save(
        self, invoice: Invoice, cause: Envelope | None, source: str, correlation_id: str = ""
    ) -> None:
        self.saves += 1
        stream = self.streams.setdefault(invoice.invoice_id, [])
        if len(stream) != invoice.version:
            raise ConcurrencyConflict(invoice.invoice_id, invoice.version)
        for envelope, publish in invoicing_ports.envelopes_for(
            invoice, cause, source, correlation_id
        ):
            stream.append(envelope)
            if publish:
                self.published.append(envelope)
        invoice.version += len(invoice.pending)
        invoice.pending.clear()


class FakeShopSettings(invoicing_ports.ShopSettingsRepository):
    def __init__(self) -> None:
        self.rows: dict[str, ShopSettings] = {}

    def get(self, shop_id: str) -> ShopSettings:
        return self.rows.get(shop_id, ShopSettings(shop_id))

    def save(self, settings: ShopSettings) -> None:
        self.rows[settings.shop_id] = settings


class FakeInvoiceNumbers(invoicing_ports.InvoiceNumbers):
    """Counts per shop; a rollback of the unit of work gives the numbers taken back."""

    def __init__(self) -> None:
        self.last: dict[str, int] = {}
        self.taken: list[str] = []

    def next(self, shop_id: str) -> int:
        self.last[shop_id] = self.last.get(shop_id, 0) + 1
        self.taken.append(shop_id)
        return self.last[shop_id]

    def give_back(self) -> None:
        for shop_id in self.taken:
            self.last[shop_id] -= 1
        self.taken.clear()


class FakeApprovedEstimates(invoicing_ports.ApprovedEstimates):
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], EstimateApproved] = {}

    def add(self, estimate: EstimateApproved) -> None:
        self.rows.setdefault((estimate.shop_id, estimate.estimate_id), estimate)

    def get(self, shop_id: str, estimate_id: str) -> EstimateApproved | None:
        return self.rows.get((shop_id, estimate_id))


class FakeInvoicingUnitOfWork(invoicing_ports.UnitOfWork):
    def __init__(self) -> None:
        self.invoices: FakeInvoices = FakeInvoices()
        self.settings: FakeShopSettings = FakeShopSettings()
        self.numbers: FakeInvoiceNumbers = FakeInvoiceNumbers()
        self.estimates: FakeApprovedEstimates = FakeApprovedEstimates()
        self.commits = 0

    def commit(self) -> None:
        self.numbers.taken.clear()
        self.commits += 1

    def rollback(self) -> None:
        self.numbers.give_back()


# --- payments ----------------------------------------------------------------------------------


class FakePayableInvoices(payments_ports.PayableInvoices):
    def __init__(self) -> None:
        self.rows: dict[str, PayableInvoice] = {}
        self.opens: dict[str, int] = {}
        self.first_viewed: dict[str, datetime] = {}

    def get(self, invoice_id: str) -> PayableInvoice | None:
        found = self.rows.get(invoice_id)
        return copy.deepcopy(found) if found else None

    def save(self, invoice: PayableInvoice) -> None:
        self.rows[invoice.invoice_id] = copy.deepcopy(invoice)

    def by_token(self, token: str) -> PayableInvoice | None:
        found = next((i for i in self.rows.values() if i.reachable_token == token), None)
        return copy.deepcopy(found) if found else None

    def revoked(self, token: str) -> bool:
        return any(i.is_revoked(token) for i in self.rows.values())

    def open(self, token: str, real: bool, now: datetime) -> payments_ports.Opened | None:
        found = next((i for i in self.rows.values() if i.reachable_token == token), None)
        if found is None:
            return None
        first = real and found.invoice_id not in self.first_viewed
        if real:
            self.opens[found.invoice_id] = self.opens.get(found.invoice_id, 0) + 1
            self.first_viewed.setdefault(found.invoice_id, now)
        return payments_ports.Opened(copy.deepcopy(found), first)


class FakeCharges(payments_ports.Charges):
    def __init__(self) -> None:
        self.rows: dict[str, Charge] = {}
        self.checked: dict[str, datetime] = {}
        """charge id → when StripeCheck last asked about it."""

    def add(self, charge: Charge) -> bool:
        if charge.charge_id in self.rows:
            return False
        self.rows[charge.charge_id] = copy.deepcopy(charge)
        return True

    def get(self, charge_id: str) -> Charge | None:
        found = self.rows.get(charge_id)
        return copy.deepcopy(found) if found else None

    def find(self, intent_id: str, charge_id: str) -> Charge | None:
        by_intent = [c for c in self.rows.values() if intent_id and c.intent_id == intent_id]
        found = by_intent[0] if by_intent else self.rows.get(charge_id)
        return copy.deepcopy(found) if found else None

    def for_invoice(self, invoice_id: str) -> list[Charge]:
        return [copy.deepcopy(c) for c in self.rows.values() if c.invoice_id == invoice_id]

    def due_for_check(
        self, made_since: datetime, due: datetime, now: datetime, limit: int
    ) -> list[Charge]:
        """The fake keeps no creation times: every unsettled charge counts as old enough."""
        waiting = [
            c
            for c in self.rows.values()
            if c.status in ("created", "processing")
            and c.intent_id is not None
            and self.checked.get(c.charge_id, due) <= due
        ]
        waiting.sort(
            key=lambda c: (c.charge_id in self.checked, self.checked.get(c.charge_id, now))
        )
        for charge in waiting[:limit]:
            self.checked[charge.charge_id] = now
        return [copy.deepcopy(c) for c in waiting[:limit]]

    def save(self, charge: Charge) -> None:
        self.rows[charge.charge_id] = copy.deepcopy(charge)


class FakeProcessor(payments_ports.Processor):
    def __init__(self) -> None:
        self.customers: dict[tuple[str, str], str] = {}
        self.seen: set[str] = set()
        self.refunds: list[tuple[str, str, int, str, str, str]] = []
        self.cards: dict[tuple[str, str], list[SavedCard]] = {}

    def has_refund(self, refund_id: str) -> bool:
        return any(r[0] == refund_id for r in self.refunds)

    def save_card(self, shop_id: str, customer_id: str, card: SavedCard) -> None:
        self.cards.setdefault((shop_id, customer_id), []).append(card)

    def saved_cards(self, shop_id: str, customer_id: str) -> list[SavedCard]:
        return list(self.cards.get((shop_id, customer_id), []))

    def customer_ref(self, shop_id: str, customer_id: str) -> str | None:
        return self.customers.get((shop_id, customer_id))

    def remember_customer(self, shop_id: str, customer_id: str, ref: str) -> None:
        self.customers.setdefault((shop_id, customer_id), ref)

    def first_delivery(self, event_id: str, event_type: str) -> bool:
        if event_id in self.seen:
            return False
        self.seen.add(event_id)
        return True

    def record_refund(
        self, refund_id: str, charge_id: str, amount_cents: int, reason: str, by: str, ref: str
    ) -> None:
        self.refunds.append((refund_id, charge_id, amount_cents, reason, by, ref))


class FakeGiveBacks(payments_ports.GiveBacks):
    def __init__(self) -> None:
        self.rows: dict[str, str] = {}

    def queue(self, invoice_id: str, shop_id: str) -> None:
        self.rows.setdefault(invoice_id, shop_id)

    def queued(self, limit: int) -> list[str]:
        return list(self.rows)[:limit]

    def take(self, invoice_id: str) -> bool:
        return self.rows.pop(invoice_id, None) is not None


class FakeGateway(PaymentGateway):
    """Records what would go to Stripe; decline=True refuses the next intent."""

    def __init__(self) -> None:
        self.intents: list[dict[str, object]] = []
        self.refunds: list[tuple[str, int, str]] = []
        self.customers: list[str] = []
        self.setups: list[tuple[str, str]] = []
        self.forgotten: list[str] = []
        self.stripe_says: dict[str, tuple[str, dict[str, str]]] = {}
        """intent id → (status, metadata) for state_of; unknown intents are processing."""
        self.cannot_answer: set[str] = set()
        """Intents state_of fails for (Stripe away, or an intent it does not know)."""
        self.asked: list[str] = []
        self.disputes: dict[str, str] = {}
        """dispute id → the intent it is about."""

    def customer_for(self, shop_id: str, customer: CustomerSnapshot) -> str:
        self.customers.append(customer.customer_id)
        return f"cus_{len(self.customers)}"

    def create_intent(self, **request: object) -> Intent:
        self.intents.append(request)
        n = len(self.intents)
        return Intent(f"pi_{n}", f"pi_{n}_secret", "requires_payment_method")

    def card_of(self, payment_method_ref: str) -> SavedCard:
        return SavedCard(payment_method_ref, "visa", "4242")

    def forget_card(self, payment_method_ref: str) -> None:
        self.forgotten.append(payment_method_ref)

    def create_setup(self, customer_ref: str, idempotency_key: str) -> str:
        self.setups.append((customer_ref, idempotency_key))
        return f"seti_{len(self.setups)}_secret"

    def refund(self, intent_id: str, amount_cents: int, idempotency_key: str) -> str:
        self.refunds.append((intent_id, amount_cents, idempotency_key))
        return f"re_{len(self.refunds)}"

    def intent(self, intent_id: str) -> IntentState:
        """What the fake Stripe holds: the intent as it was created, in the state ``stripe_says``
        (processing unless told), with its own metadata unless ``stripe_says`` gives other."""
        self.asked.append(intent_id)
        if intent_id in self.cannot_answer:
            raise ConnectionError(f"Stripe did not answer about {intent_id}")
        number = int(intent_id.removeprefix("pi_")) if intent_id[3:].isdigit() else 0
        if not 0 < number <= len(self.intents):
            raise UnknownToStripe(intent_id)
        made = self.intents[number - 1]
        status, metadata = self.stripe_says.get(intent_id, ("processing", {}))
        amount = int(made["amount_cents"])  # type: ignore[call-overload]
        return IntentState(
            intent_id=intent_id,
            status=status,
            amount_cents=amount,
            amount_received_cents=amount if status == "succeeded" else 0,
            currency="USD",
            metadata=metadata or dict(made["metadata"]),  # type: ignore[call-overload]
            failure="insufficient funds" if status == "requires_payment_method" else "",
        )

    def disputed_intent(self, dispute_id: str) -> tuple[str, str]:
        if dispute_id not in self.disputes:
            raise UnknownToStripe(dispute_id)
        return self.disputes[dispute_id], "debit_not_authorized"

    def verify(self, payload: bytes, signature: str) -> WebhookNotice | None:
        raise NotImplementedError("webhook verification is the Stripe adapter's (integration)")


class FakePaymentsUnitOfWork(payments_ports.UnitOfWork):
    def __init__(self) -> None:
        self.invoices: FakePayableInvoices = FakePayableInvoices()
        self.charges: FakeCharges = FakeCharges()
        self.processor: FakeProcessor = FakeProcessor()
        self.give_backs: FakeGiveBacks = FakeGiveBacks()
        self.published: list[PublishedEvent] = []
        self.commits = 0

    def publish(self, aggregate_id: str, version: int, envelope: Envelope) -> None:
        self.published.append(PublishedEvent(aggregate_id, version, envelope))

    def commit(self) -> None:
        self.commits += 1

    def rollback(self) -> None:
        pass


# --- gateway -----------------------------------------------------------------------------------


class FakeUsers(Users):
    def __init__(self) -> None:
        self.rows: dict[str, tuple[StaffUser, str]] = {}
        self.versions: dict[str, int] = {}

    def by_email(self, email: str) -> tuple[StaffUser, str] | None:
        return self.rows.get(email)

    def add(self, user: StaffUser, password_hash: str) -> None:
        self.rows[user.email] = (user, password_hash)
        self.versions[user.user_id] = self.versions.get(user.user_id, 0) + 1

    def create(self, user: StaffUser, password_hash: str) -> bool:
        if user.email in self.rows:
            return False
        if any(u.name.lower() == user.name.lower() for u in self.of_shop(user.shop_id)):
            raise NameTaken(user.name)
        self.add(user, password_hash)
        return True

    def of_shop(self, shop_id: str) -> list[StaffUser]:
        return sorted((u for u, _ in self.rows.values() if u.shop_id == shop_id), key=str)

    def _owners_stay(self, shop_id: str, user_id: str, role: str | None) -> None:
        owners = {u.user_id for u in self.of_shop(shop_id) if u.role == "owner"}
        if role != "owner" and user_id in owners and not owners - {user_id}:
            raise LastOwner(shop_id)

    def _by_id(self, user_id: str) -> StaffUser | None:
        return next((u for u, _ in self.rows.values() if u.user_id == user_id), None)

    def current(self, user_id: str, version: int) -> StaffUser | None:
        return self._by_id(user_id) if self.versions.get(user_id) == version else None

    def version(self, user_id: str) -> int:
        return self.versions.get(user_id, 0)

    def end_sessions(self, user_id: str) -> None:
        self.versions[user_id] = self.versions.get(user_id, 0) + 1

    def change_role(self, shop_id: str, user_id: str, role: str) -> bool:
        found = self._by_id(user_id)
        if found is None or found.shop_id != shop_id:
            return False
        self._owners_stay(shop_id, user_id, role)
        changed = replace(found, role=role)  # type: ignore[arg-type]
        self.rows[found.email] = (changed, self.rows[found.email][1])
        self.versions[user_id] += int(role != found.role)
        return True

    def remove(self, shop_id: str, user_id: str) -> bool:
        found = self._by_id(user_id)
        if found is None or found.shop_id != shop_id:
            return False
        self._owners_stay(shop_id, user_id, None)
        del self.rows[found.email]
        return True
