"""What invoicing keeps per shop: numbering, the card limit and the shop's branding and time zone.
Standard library only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

DEFAULT_CARD_MAX_CENTS = 500_000
"""Above $5,000 card is off by default (big-ticket jobs go ACH only); staff can turn it on."""


@dataclass(frozen=True)
class ShopSettings:
    shop_id: str
    name: str = ""
    number_prefix: str = "INV-{year}-"
    """``{year}`` becomes the year the invoice is sent (in the shop's time zone)."""
    card_max_cents: int = DEFAULT_CARD_MAX_CENTS
    max_invoice_cents: int = 100_000_000
    """No invoice above this ($1,000,000; a typo, not a job). Not yet editable in Settings."""
    logo_url: str | None = None
    color: str = "#1f6feb"
    time_zone: str = "America/Los_Angeles"

    @property
    def display_name(self) -> str:
        return self.name or self.shop_id.replace("-", " ").title()

    def today(self, now: datetime) -> date:
        """Dates that matter to the shop (due dates, overdue) are in its time zone."""
        return now.astimezone(ZoneInfo(self.time_zone)).date()

    def invoice_number(self, n: int, now: datetime) -> str:
        prefix = self.number_prefix.replace("{year}", str(self.today(now).year))
        return f"{prefix}{n:06d}"
