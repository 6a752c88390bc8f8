"""Ports of the jobs service: repositories and the unit of work (one database transaction)."""

from __future__ import annotations

import abc
from types import TracebackType

from services.jobs.domain.model import Customer, Job, ServiceLocation
from shared.envelope import Envelope


class CustomerRepository(abc.ABC):
    """Customers of one shop; another shop's customer is simply not there."""

    @abc.abstractmethod
    def add(self, customer: Customer) -> None: ...

    @abc.abstractmethod
    def get(self, shop_id: str, customer_id: str) -> Customer | None: ...


class ServiceLocationRepository(abc.ABC):
    """A shop's customers' service locations."""

    @abc.abstractmethod
    def add(self, location: ServiceLocation) -> None: ...

    @abc.abstractmethod
    def get(self, shop_id: str, location_id: str) -> ServiceLocation | None: ...

    @abc.abstractmethod
    def for_customer(self, shop_id: str, customer_id: str) -> list[ServiceLocation]: ...


class JobRepository(abc.ABC):
    """Jobs with their line items and labor. ``save`` is optimistic on ``version``."""

    @abc.abstractmethod
    def add(self, job: Job) -> None: ...

    @abc.abstractmethod
    def get(self, shop_id: str, job_id: str) -> Job | None: ...

    @abc.abstractmethod
    def save(self, job: Job) -> None:
        """Persist a changed job; raises ConcurrencyConflict if it changed since it was read."""


class UnitOfWork(abc.ABC):
    """One transaction: repository writes and published events commit together or not at all."""

    customers: CustomerRepository
    locations: ServiceLocationRepository
    jobs: JobRepository

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    @abc.abstractmethod
    def publish(self, aggregate_id: str, version: int, envelope: Envelope) -> None:
        """Record an event in the outbox, in this transaction, as ``version`` of the aggregate."""

    @abc.abstractmethod
    def commit(self) -> None: ...

    @abc.abstractmethod
    def rollback(self) -> None: ...
