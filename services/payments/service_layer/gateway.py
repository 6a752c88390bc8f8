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
class StripeEvent:
    """A verified webhook: its id (processed once), type and the PaymentIntent it is about."""

    event_id: str
    event_type: str
    intent_id: str
    amount_cents: int
    metadata: dict[str, str]
    failure: str = ""


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
    def state_of(self, intent_id: str) -> StripeEvent:
        """Stripe's word on an intent now, told as its webhook would tell it: for a webhook that
        never came (the event id names the intent and what it says of it — its status, or that
        it failed — so each is acted on once, and a failure after a status with no error is not
        taken for that status seen again)."""

    @abc.abstractmethod
    def verify(self, payload: bytes, signature: str) -> StripeEvent | None:
        """The event if the signature holds (None: an event type we do not act on)."""
