"""The port to notifications' own record of what it sends."""

from __future__ import annotations

import abc
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

from services.notifications.domain.messages import Message
from shared.contracts import InvoiceSent


@dataclass(frozen=True)
class Claimed:
    message: Message
    invoice: InvoiceSent


class MessageQueue(abc.ABC):
    @abc.abstractmethod
    def queue(self, sent: InvoiceSent, messages: list[Message]) -> int:
        """Keep the invoice and the messages not queued before; how many are new."""


class MessageStore(abc.ABC):
    """The sender's side of the queue."""

    @abc.abstractmethod
    def claim_next(self) -> Claimed | None:
        """The oldest pending message, now marked as being sent (committed), or None."""

    @abc.abstractmethod
    def sent(self, message_id: str, provider_id: str) -> None: ...

    @abc.abstractmethod
    def failed(self, message_id: str, error: str) -> None: ...

    @abc.abstractmethod
    def retry_later(self, message_id: str, error: str) -> None:
        """The provider could not be reached: pending again."""


class NudgeStore(abc.ABC):
    @abc.abstractmethod
    def locked(
        self, shop_id: str, invoice_id: str
    ) -> AbstractContextManager[tuple[InvoiceSent, datetime | None] | None]:
        """The shop's invoice and when its last message went out, locked until the block ends
        (then committed); None for an invoice not sent (or another shop's)."""

    @abc.abstractmethod
    def add(self, messages: list[Message]) -> None:
        """Queue these, in the locked block's transaction."""
