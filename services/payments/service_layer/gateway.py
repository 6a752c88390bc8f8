"""The port to the card/bank processor (Stripe). The adapter speaks the official SDK; fakes in
unit tests subclass this."""

from __future__ import annotations

import abc
from dataclasses import dataclass

from shared.contracts import CustomerSnapshot, PaymentMethod


@dataclass(frozen=True)
class Intent:
    intent_id: str
    client_secret: str
    status: str


@dataclass(frozen=True)
class SavedCard:
    payment_method: str
    brand: str
    last4: str


@dataclass(frozen=True)
class BankDebit:
    """A US bank account as the customer typed it, for one ACH debit (never stored here)."""

    account_holder_name: str
    routing_number: str
    account_number: str
    account_holder_type: str = "individual"


@dataclass(frozen=True)
class Mandate:
    """The customer's online authorization of the debit (NACHA): where and how it was given."""

    ip_address: str
    user_agent: str


@dataclass(frozen=True)
class IntentState:
    """What Stripe holds of a PaymentIntent (or what a webhook's body claims of it): the only
    word the books act on is the one read back from Stripe."""

    intent_id: str
    status: str
    amount_cents: int
    amount_received_cents: int
    currency: str
    metadata: dict[str, str]
    failure: str = ""
    account: str | None = None
    """The connected account it belongs to (None: the platform's own)."""

    @property
    def outcome(self) -> str:
        """payment_intent.<processing|succeeded|payment_failed>, or the status Stripe left it in
        (requires_action: 3-D Secure under way)."""
        failed = self.status in ("requires_payment_method", "canceled") and bool(self.failure)
        return "payment_intent." + ("payment_failed" if failed else self.status)


@dataclass(frozen=True)
class WebhookNotice:
    """A verified webhook: its id (processed once), its type, and what its body claims."""

    event_id: str
    event_type: str
    claimed: IntentState
    dispute_id: str = ""
    """For charge.dispute.created: the dispute (a card chargeback or an ACH return)."""


class MalformedWebhook(Exception):
    """Signed, but not an event we can read (no data, no object, no amount)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class UnknownToStripe(Exception):
    """Stripe holds no such object (a forged or foreign event)."""


class PaymentMethodRefused(Exception):
    """Stripe would not use the payment method (an unknown or unusable card); the message is
    for the customer."""


class BadSignature(Exception):
    """Unsigned, signed with another secret, or too old: not from Stripe."""


class CardDeclined(Exception):
    """The processor refused the payment; the message is for the customer."""


class PaymentGateway(abc.ABC):
    @abc.abstractmethod
    def customer_for(self, shop_id: str, customer: CustomerSnapshot) -> str:
        """A new processor customer for the shop's customer (the caller stores the id)."""

    @abc.abstractmethod
    def create_intent(
        self,
        *,
        amount_cents: int,
        currency: str,
        method: PaymentMethod,
        customer_ref: str,
        metadata: dict[str, str],
        idempotency_key: str,
        payment_method_ref: str | None = None,
        bank: BankDebit | None = None,
        mandate: Mandate | None = None,
    ) -> Intent:
        """With ``payment_method_ref`` (made by Stripe.js in the browser) the intent is confirmed
        at once, on the server: ``succeeded``, ``processing`` (ACH) or ``requires_action`` (3-D
        Secure: the page finishes it with the client secret); a decline raises CardDeclined.
        With ``bank`` and ``mandate`` an ACH debit is confirmed at once (``processing``)."""

    @abc.abstractmethod
    def create_setup(self, customer_ref: str, idempotency_key: str) -> str:
        """A SetupIntent for a card: the page confirms it with Stripe.js (the card details go
        to Stripe, never here) and pays with the PaymentMethod it yields. Its client secret."""

    @abc.abstractmethod
    def card_of(self, payment_method_ref: str) -> SavedCard:
        """How to show a card (brand and last four digits) without ever holding its number."""

    @abc.abstractmethod
    def forget_card(self, payment_method_ref: str) -> None:
        """Detach a card the customer did not ask to save."""

    @abc.abstractmethod
    def refund(self, intent_id: str, amount_cents: int, idempotency_key: str) -> str:
        """The processor's refund id."""

    @abc.abstractmethod
    def intent(self, intent_id: str) -> IntentState:
        """Stripe's word on an intent now (UnknownToStripe if it holds none)."""

    @abc.abstractmethod
    def disputed_intent(self, dispute_id: str) -> tuple[str, str]:
        """The intent a dispute (or an ACH return after success) is about and Stripe's reason,
        read from Stripe (UnknownToStripe if it holds no such dispute)."""

    @abc.abstractmethod
    def verify(self, payload: bytes, signature: str) -> WebhookNotice | None:
        """The event if the signature holds (None: an event type we do not act on);
        BadSignature or MalformedWebhook otherwise."""
