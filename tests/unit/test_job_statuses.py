"""A job is scheduled, then in progress, then closed — or canceled, after which nothing bills it."""

from __future__ import annotations

import pytest

from services.jobs.domain.model import JobAlreadyClosed, JobCanceled, JobStatus
from services.jobs.service_layer import commands, handlers
from tests.unit.fakes import FakeJobsUnitOfWork
from tests.unit.test_jobs import SHOP, a_customer, clock, create_job_cmd

pytestmark = pytest.mark.unit


def new_job(uow: FakeJobsUnitOfWork) -> str:
    return handlers.create_job(SHOP, create_job_cmd(), uow).job_id


def test_scheduled_then_in_progress_then_closed() -> None:
    uow = FakeJobsUnitOfWork([a_customer()])
    job_id = new_job(uow)
    assert uow.jobs.get(SHOP, job_id).status is JobStatus.SCHEDULED  # type: ignore[union-attr]
    started = handlers.start_job(SHOP, job_id, uow)
    assert (started.status, started.version) == (JobStatus.IN_PROGRESS, 2)
    closed = handlers.close_job(SHOP, commands.CloseJob(job_id=job_id), uow, clock)
    assert (closed.status, closed.version) == (JobStatus.CLOSED, 3)
    assert len(uow.published) == 1


def test_a_canceled_job_cannot_be_started_closed_or_canceled_again() -> None:
    uow = FakeJobsUnitOfWork([a_customer()])
    job_id = new_job(uow)
    assert handlers.cancel_job(SHOP, job_id, uow).status is JobStatus.CANCELED
    with pytest.raises(JobCanceled):
        handlers.close_job(SHOP, commands.CloseJob(job_id=job_id), uow, clock)
    with pytest.raises(JobCanceled):
        handlers.start_job(SHOP, job_id, uow)
    with pytest.raises(JobCanceled):
        handlers.cancel_job(SHOP, job_id, uow)
    assert uow.published == []
    assert uow.jobs.get(SHOP, job_id).version == 2  # type: ignore[union-attr]


def test_a_closed_job_cannot_be_canceled() -> None:
    uow = FakeJobsUnitOfWork([a_customer()])
    job_id = new_job(uow)
    handlers.close_job(SHOP, commands.CloseJob(job_id=job_id), uow, clock)
    with pytest.raises(JobAlreadyClosed):
        handlers.cancel_job(SHOP, job_id, uow)
