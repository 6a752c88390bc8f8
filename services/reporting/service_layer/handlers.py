"""Use cases of the reporting service: keep the AR aging read model, answer the report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.reporting.domain.aging import Buckets, Report, aging, from_buckets
from services.reporting.domain.ledger import InvoiceFacts, TenantMismatch, changed, contributions
from services.reporting.service_layer.store import AgingReports, AgingStore, InvoiceOwed
from shared.contracts import Event
from shared.envelope import Envelope


class FutureDate(ValueError):
    field = "as_of"

    def __init__(self, today: date) -> None:
        self.reason = f"must be today ({today.isoformat()}) or earlier"
        super().__init__(self.reason)


def when_invoice_changes_age_it(envelope: Envelope, store: AgingStore) -> bool:
    """Fold the fact into its invoice and move the shop's sums by what changed; False for a
    duplicate (nothing moves)."""
    event: Event = envelope.event
    shop_id = getattr(event, "shop_id", "")
    if shop_id != envelope.tenant:
        raise TenantMismatch(f"{envelope.type} for {shop_id} came as {envelope.tenant}")
    facts = store.locked(event.subject, shop_id)
    return record(facts, event, store)


def record(facts: InvoiceFacts, event: Event, store: AgingStore) -> bool:
    before = contributions(facts)
    if not facts.record(event):
        return False
    after = contributions(facts)
    store.save(facts, changed(before, after), after)
    return True


@dataclass(frozen=True)
class Ask:
    shop_id: str
    today: date
    """Today in the shop's time zone (from the injected clock)."""
    as_of: date | None = None
    buckets: Buckets | None = None
    by_customer: bool = False


def aging_report(ask: Ask, reports: AgingReports) -> Report:
    shop = reports.shop(ask.shop_id)
    day = ask.as_of or ask.today
    if day > ask.today:
        raise FutureDate(ask.today)
    buckets = ask.buckets or shop.buckets
    now = day == ask.today
    if not ask.by_customer:
        return from_buckets(reports.bucketed(ask.shop_id, day, buckets, now), day, buckets)
    owed = reports.owed_now(ask.shop_id) if now else reports.owed_on(ask.shop_id, day)
    return aging(owed, day, buckets, True)


def invoices_in_bucket(
    ask: Ask, bucket: int, customer_id: str | None, reports: AgingReports
) -> list[InvoiceOwed]:
    """Drill-down: the invoices behind one bucket (and customer) of the report."""
    buckets = ask.buckets or reports.shop(ask.shop_id).buckets
    day = ask.as_of or ask.today
    if day > ask.today:
        raise FutureDate(ask.today)
    earliest, latest = buckets.due_dates(bucket, day)
    return reports.invoices(ask.shop_id, day, earliest, latest, customer_id)
