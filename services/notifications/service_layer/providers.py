"""Ports to the SMS and email providers; adapters speak the official SDKs."""

from __future__ import annotations

import abc
from dataclasses import dataclass


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    pdf_name: str
    pdf: bytes
    from_name: str


class SmsProvider(abc.ABC):
    @abc.abstractmethod
    def send(self, to: str, body: str) -> str:
        """The provider's message id."""


class EmailProvider(abc.ABC):
    @abc.abstractmethod
    def send(self, email: Email) -> str:
        """The provider's message id."""


class ProviderRefused(Exception):
    """The provider answered and refused (a bad number, an unknown address): do not retry."""
