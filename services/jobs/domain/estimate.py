"""An estimate: the work and its price, proposed before the job. Once the customer approves it,
the office can turn it into an invoice (+ Invoice). Standard library only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from services.jobs.domain.model import Address, LaborEntry, LineItem


class EstimateStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    APPROVED = "approved"
    DECLINED = "declined"


class UnknownEstimate(Exception):
    pass


class EstimateNotDraft(Exception):
    """Lines change only while the estimate is a draft; a sent one is what the customer saw."""


class EstimateAlreadyDecided(Exception):
    """Approved or declined is final; an approval is what invoicing bills."""


class EmptyEstimate(Exception):
    """An estimate with nothing on it cannot be sent or approved."""


@dataclass
class Estimate:
    estimate_id: str
    shop_id: str
    customer_id: str
    service_address: Address
    service_location_id: str | None = None
    line_items: list[LineItem] = field(default_factory=list)
    labor: list[LaborEntry] = field(default_factory=list)
    notes: str = ""
    status: EstimateStatus = EstimateStatus.DRAFT
    version: int = 1
    sent_at: datetime | None = None
    decided_at: datetime | None = None
    approved_by: str | None = None
    decline_reason: str | None = None

    def add_line_item(self, item: LineItem) -> None:
        self._must_be_draft()
        self.line_items.append(item)
        self.version += 1

    def add_labor(self, entry: LaborEntry) -> None:
        self._must_be_draft()
        self.labor.append(entry)
        self.version += 1

    def send(self, now: datetime) -> None:
        """Marked as shown to the customer; sending again (a resend) keeps the first time."""
        self._must_be_undecided()
        self._must_have_lines()
        self.status = EstimateStatus.SENT
        self.sent_at = self.sent_at or now
        self.version += 1

    def approve(self, now: datetime, approved_by: str) -> None:
        """The office records the customer's yes (on site, by phone, by email)."""
        self._must_be_undecided()
        self._must_have_lines()
        self.status = EstimateStatus.APPROVED
        self.decided_at = now
        self.approved_by = approved_by
        self.version += 1

    def decline(self, now: datetime, reason: str) -> None:
        self._must_be_undecided()
        self.status = EstimateStatus.DECLINED
        self.decided_at = now
        self.decline_reason = reason
        self.version += 1

    def _must_be_draft(self) -> None:
        self._must_be_undecided()
        if self.status is not EstimateStatus.DRAFT:
            raise EstimateNotDraft(f"estimate {self.estimate_id} was sent; its lines are fixed")

    def _must_be_undecided(self) -> None:
        if self.status in (EstimateStatus.APPROVED, EstimateStatus.DECLINED):
            raise EstimateAlreadyDecided(
                f"estimate {self.estimate_id} is already {self.status.value}"
            )

    def _must_have_lines(self) -> None:
        if not self.line_items and not self.labor:
            raise EmptyEstimate(f"estimate {self.estimate_id} has no lines")
