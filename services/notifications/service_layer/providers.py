"""Ports to the SMS and email providers; adapters speak the official SDKs."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    pdf_name: str
    pdf: bytes
    from_name: str
    reference: str
    """Our message id, carried to the provider (and back in its event webhooks)."""


class SmsProvider(abc.ABC):
    @abc.abstractmethod
    def send(self, to: str, body: str, reference: str) -> str:
        """The provider's message id. ``reference`` (our message id) comes back in its status
        callbacks."""

    @abc.abstractmethod
    def find(self, to: str, body: str, since: datetime) -> str | None:
        """The provider's id of that text to that number sent since then, or None."""


class EmailProvider(abc.ABC):
    @abc.abstractmethod
    def send(self, email: Email) -> str:
        """The provider's message id."""

    @abc.abstractmethod
    def find(self, reference: str) -> str | None:
        """The provider's id of the email we sent with that reference, or None."""


class ProviderRefused(Exception):
    """The provider answered and refused (a bad number, an unknown address): do not retry."""


class LookupUnavailable(Exception):
    """The provider cannot say what it sent (e.g. SendGrid's Email Activity API is not enabled)."""


class ProviderUnreachable(Exception):
    """The request never reached the provider (refused, no such host): safe to send again. Any
    other failure (a timeout waiting for the answer, a 5xx) may have sent it: the message stays
    being sent and is settled by asking the provider."""
