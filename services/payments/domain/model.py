"""What payments knows of an invoice the customer can pay: its own copy, kept from InvoiceSent,
corrections (InvoiceUpdated of a sent invoice) and InvoiceVoided, whatever order they arrive in.
Standard library and the shared contracts only."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from shared.contracts import (
    Address,
    CustomerSnapshot,
    InvoiceLine,
    InvoiceSent,
    InvoiceTotals,
    InvoiceUpdated,
    InvoiceVoided,
    PayLinkReplaced,
    PaymentMethod,
    ShopBranding,
    pay_token_digest,
)

PREVIEW_BOTS = re.compile(
    r"facebookexternalhit|facebot|twitterbot|slackbot|slack-imgproxy|whatsapp|telegrambot|"
    r"discordbot|linkedinbot|skypeuripreview|applebot|googlebot|bingbot|pinterest|embedly|"
    r"vkshare|redditbot|mastodon|iframely|outbrain|quora link preview|bitlybot|"
    r"google-pagerenderer|yahoo! slurp|duckduckbot|baiduspider|yandex|headlesschrome|"
    r"\bbot\b|crawler|spider|preview|"
    r"viber|signal|skype|"
    r"microsoft office|ms-office|existence discovery|outlook-(ios|android)?-?link|"
    r"proofpoint|mimecast|barracuda|safelinks|urldefense|"
    r"^curl/|^wget/|python-requests|python-urllib|python-httpx|aiohttp|go-http-client|okhttp|"
    r"^java/|apache-httpclient|axios/|node-fetch|undici|libwww-perl|^ruby|guzzlehttp",
    re.IGNORECASE,
)
"""Link previews (messaging apps unfurling the SMS link), mail scanners and Office's existence
checks, crawlers and HTTP libraries: they fetch the page, but nobody has looked at the invoice."""


def is_a_real_open(method: str, user_agent: str) -> bool:
    """A person opening the link: a GET from a browser, not a HEAD nor a preview bot."""
    return method == "GET" and bool(user_agent.strip()) and not PREVIEW_BOTS.search(user_agent)


@dataclass
class PayableInvoice:
    invoice_id: str
    shop_id: str
    invoice_number: str | None = None
    pay_token: str | None = None
    pay_url: str | None = None
    customer: CustomerSnapshot | None = None
    service_address: Address | None = None
    lines: list[InvoiceLine] = field(default_factory=list)
    totals: InvoiceTotals | None = None
    allowed_payment_methods: list[PaymentMethod] = field(default_factory=list)
    due_date: date | None = None
    sent_at: datetime | None = None
    shop: ShopBranding | None = None
    as_of: datetime | None = None
    """When the content we hold was true (the newest InvoiceSent or correction seen)."""
    voided_at: datetime | None = None
    void_reason: str = ""
    link_number: int = 0
    """The live link's number: InvoiceSent's is 1, each PayLinkReplaced the next."""
    revoked: list[str] = field(default_factory=list)
    """SHA-256 of every token staff revoked (or that a newer link replaced): never payable."""

    @property
    def payable(self) -> bool:
        return self.pay_token is not None and self.voided_at is None

    @property
    def reachable_token(self) -> str | None:
        """The token the pay page answers to: the live link, once InvoiceSent has brought the
        invoice itself (a replacement can arrive first; its link waits for the content)."""
        return self.pay_token if self.invoice_number is not None else None

    def keep_sent(self, sent: InvoiceSent) -> None:
        """The number and branding come only with InvoiceSent, and its link unless a newer one
        replaced it already; its content counts unless a correction made later has arrived."""
        if self.link_number <= 1:
            self.pay_token, self.pay_url, self.link_number = sent.pay_token, sent.pay_url, 1
        self.invoice_number, self.sent_at, self.shop = sent.invoice_number, sent.sent_at, sent.shop
        if self.as_of is None or sent.sent_at >= self.as_of:
            self._content(
                sent.customer,
                sent.service_address,
                sent.lines,
                sent.totals,
                sent.allowed_payment_methods,
                sent.due_date,
                sent.sent_at,
            )

    def keep_correction(self, update: InvoiceUpdated) -> bool:
        """A correction of a sent invoice replaces the content if it is newer than what we hold;
        False for edits of a draft (the customer never saw it) and for stale ones."""
        if not update.sent or update.change == "note":
            return False
        if self.as_of is not None and update.updated_at < self.as_of:
            return False
        self._content(
            update.customer,
            update.service_address,
            update.lines,
            update.totals,
            update.allowed_payment_methods,
            update.due_date,
            update.updated_at,
        )
        return True

    def keep_new_link(self, replaced: PayLinkReplaced) -> bool:
        """Staff revoked a link and issued another: the highest-numbered link is the live one,
        whatever order the events come in; each replacement names the link it revoked, so every
        older link ends up revoked. False when nothing changed (a redelivery)."""
        before = (self.link_number, list(self.revoked))
        self._revoke(replaced.revoked_token_sha256)
        if replaced.link_number > self.link_number:
            self.pay_token, self.pay_url = replaced.pay_token, replaced.pay_url
            self.link_number = replaced.link_number
        return (self.link_number, self.revoked) != before

    def is_revoked(self, token: str) -> bool:
        return pay_token_digest(token) in self.revoked

    def _revoke(self, digest: str) -> None:
        if digest not in self.revoked:
            self.revoked.append(digest)

    def keep_voided(self, voided: InvoiceVoided) -> None:
        self.voided_at, self.void_reason = voided.voided_at, voided.reason

    def _content(
        self,
        customer: CustomerSnapshot,
        service_address: Address,
        lines: list[InvoiceLine],
        totals: InvoiceTotals,
        methods: list[PaymentMethod],
        due_date: date | None,
        as_of: datetime,
    ) -> None:
        self.customer, self.service_address = customer, service_address
        self.lines, self.totals = list(lines), totals
        self.allowed_payment_methods = list(methods)
        self.due_date = due_date if due_date is not None else self.due_date
        self.as_of = as_of
