"""Ports to notifications' own records: the message queue, its copy of each sent invoice and what
happened to it since (corrections, payments, voids), the shops' automations, delivery facts."""

from __future__ import annotations

import abc
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

from services.notifications.domain.messages import Message
from services.notifications.domain.reminders import Automations
from services.notifications.domain.standing import Standing
from shared.contracts import (
    InvoiceSent,
    InvoiceUpdated,
    InvoiceVoided,
    MessageDelivered,
    MessageFailed,
    PayLinkReplaced,
    ReminderSent,
)


@dataclass(frozen=True)
class Claimed:
    message: Message
    invoice: InvoiceSent
    claimed_at: datetime | None = None
    opted_out: bool = False
    """An SMS to a number that replied STOP: not sent."""


class MessageQueue(abc.ABC):
    @abc.abstractmethod
    def queue(self, sent: InvoiceSent, messages: list[Message]) -> int:
        """Keep the invoice and the messages not queued before; how many are new."""


class InvoiceFacts(abc.ABC):
    """What happened to a sent invoice, recorded in whatever order the facts come."""

    @abc.abstractmethod
    def correct(self, correction: InvoiceUpdated) -> None:
        """Keep the latest correction (by its time) of the sent invoice."""

    @abc.abstractmethod
    def void(self, voided: InvoiceVoided) -> None: ...

    @abc.abstractmethod
    def new_pay_link(self, replaced: PayLinkReplaced) -> None:
        """Keep every link staff issued: the highest-numbered is the live one (any order)."""

    @abc.abstractmethod
    def payment(
        self, payment_id: str, invoice_id: str, shop_id: str, amount_cents: int, state: str
    ) -> None:
        """clearing → received → failed: a payment only moves forward, whatever the order."""


class MessageStore(abc.ABC):
    """The sender's side of the queue."""

    @abc.abstractmethod
    def claim_next(self) -> Claimed | None:
        """The oldest pending message, now marked as being sent (committed), or None."""

    # Each outcome applies only if the message is still being sent under that very claim: two
    # senders settling the same message after a crash cannot undo each other.

    @abc.abstractmethod
    def sent(self, claimed: Claimed, provider_id: str) -> None: ...

    @abc.abstractmethod
    def failed(self, claimed: Claimed, fact: MessageFailed) -> None:
        """The provider refused it (or the number opted out): failed, and the fact recorded."""

    @abc.abstractmethod
    def retry_later(self, claimed: Claimed, error: str) -> None:
        """It never reached the provider: pending again."""

    @abc.abstractmethod
    def stuck(self, claimed_before: datetime) -> list[Claimed]:
        """Messages claimed before that moment and still being sent: the sender died mid-send."""

    @abc.abstractmethod
    def unknown(self, claimed: Claimed, error: str) -> None:
        """Whether it went out cannot be known: not sent again; staff see it on the timeline."""


class NudgeStore(abc.ABC):
    @abc.abstractmethod
    def locked(self, shop_id: str, invoice_id: str) -> AbstractContextManager[Standing | None]:
        """The shop's invoice as it stands, locked until the block ends (then committed); None
        for an invoice not sent (or another shop's)."""

    @abc.abstractmethod
    def add(self, messages: list[Message], fact: ReminderSent) -> None:
        """Queue these and record the fact, in the locked block's transaction."""


class ReminderStore(abc.ABC):
    @abc.abstractmethod
    def standings(self) -> Iterable[Standing]:
        """Every sent invoice not void and not known to be paid."""

    @abc.abstractmethod
    def automations(self, shop_id: str) -> Automations:
        """The shop's reminder settings (the defaults until the shop saves its own)."""

    @abc.abstractmethod
    def queue_reminder(
        self, messages: list[Message], fact: ReminderSent, quiet_since: datetime
    ) -> int:
        """Queue the messages not queued before and, if any were new, record the fact: in one
        transaction, the invoice locked, and nothing if any message about it went out after
        ``quiet_since`` (a nudge a moment ago). How many were new."""


class AutomationsStore(abc.ABC):
    @abc.abstractmethod
    def get(self, shop_id: str) -> Automations | None: ...

    @abc.abstractmethod
    def save(self, shop_id: str, automations: Automations, by: str) -> None: ...


@dataclass(frozen=True)
class Sent:
    """A message as the provider knows it, for a delivery report."""

    message: Message
    provider_id: str


class DeliveryStore(abc.ABC):
    @abc.abstractmethod
    def by_provider_id(self, provider_id: str) -> Sent | None: ...

    @abc.abstractmethod
    def by_message_id(self, message_id: str) -> Sent | None: ...

    @abc.abstractmethod
    def report(self, fact: MessageDelivered | MessageFailed) -> bool:
        """Record the message's outcome once (the first final report wins); False if known."""

    @abc.abstractmethod
    def opt_out(self, phone: str, opted_out: bool, reply_id: str) -> bool:
        """STOP (True) or START (False) from that number, once per reply (Twilio's MessageSid):
        False, and nothing changes, for a reply handled before (a replayed webhook)."""
