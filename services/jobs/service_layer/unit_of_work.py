"""Ports of the jobs service: repositories and the unit of work (one database transaction)."""

from __future__ import annotations

import abc

from services.jobs.domain.estimate import Estimate
from services.jobs.domain.model import Customer, Job, ServiceLocation
from services.jobs.domain.pricebook import PricebookItem, TaxRate
from shared import unit_of_work as shared_uow
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


class TaxRateRepository(abc.ABC):
    """The shop's named tax rates; at most one is the default."""

    @abc.abstractmethod
    def add(self, rate: TaxRate) -> None: ...

    @abc.abstractmethod
    def for_shop(self, shop_id: str) -> list[TaxRate]:
        """All of them, oldest first (a shop has a handful)."""

    @abc.abstractmethod
    def make_default(self, shop_id: str, tax_rate_id: str) -> None:
        """This rate becomes the default and no other is."""


class PricebookRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, item: PricebookItem) -> None: ...

    @abc.abstractmethod
    def get_many(self, shop_id: str, item_ids: set[str]) -> list[PricebookItem]:
        """Those of ``item_ids`` that are in the shop's pricebook."""

    @abc.abstractmethod
    def save(self, item: PricebookItem) -> None: ...


class JobRepository(abc.ABC):
    """Jobs with their line items and labor. ``save`` is optimistic on ``version``."""

    @abc.abstractmethod
    def add(self, job: Job) -> None: ...

    @abc.abstractmethod
    def get(self, shop_id: str, job_id: str) -> Job | None: ...

    @abc.abstractmethod
    def save(self, job: Job) -> None:
        """Persist a changed job; raises ConcurrencyConflict if it changed since it was read."""


class EstimateRepository(abc.ABC):
    """Estimates with their lines. ``save`` is optimistic on ``version``."""

    @abc.abstractmethod
    def add(self, estimate: Estimate) -> None: ...

    @abc.abstractmethod
    def get(self, shop_id: str, estimate_id: str) -> Estimate | None: ...

    @abc.abstractmethod
    def save(self, estimate: Estimate) -> None:
        """Persist a changed estimate; raises ConcurrencyConflict if it changed since read."""


class UnitOfWork(shared_uow.UnitOfWork):
    """One transaction: repository writes and published events commit together or not at all."""

    customers: CustomerRepository
    locations: ServiceLocationRepository
    tax_rates: TaxRateRepository
    pricebook: PricebookRepository
    jobs: JobRepository
    estimates: EstimateRepository

    @abc.abstractmethod
    def publish(self, aggregate_id: str, version: int, envelope: Envelope) -> None:
        """Record an event in the outbox, in this transaction, as ``version`` of the aggregate."""
