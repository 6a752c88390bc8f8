"""HTTP API of the jobs service: translate, dispatch, map errors. No business rules here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, Response, g, request
from pydantic import BaseModel
from werkzeug.exceptions import NotFound

from services.jobs import bootstrap, views
from services.jobs.adapters.postgres import PostgresUnitOfWork
from services.jobs.domain.estimate import (
    EmptyEstimate,
    EstimateAlreadyDecided,
    EstimateNotDraft,
    EstimateStatus,
    UnknownEstimate,
)
from services.jobs.domain.model import (
    CustomerType,
    InvoiceAlreadySent,
    JobAlreadyClosed,
    JobCanceled,
    JobNotClosed,
    JobStatus,
    JobTooLarge,
    UnknownCustomer,
    UnknownJob,
    UnknownServiceLocation,
)
from services.jobs.domain.pricebook import PricingError
from services.jobs.entrypoints.schemas import (
    CustomerOut,
    CustomerPage,
    EstimateOut,
    EstimatePage,
    JobOut,
    JobPage,
    PricebookItemOut,
    PricebookPage,
    ServiceLocationList,
    ServiceLocationOut,
    TaxRateList,
    TaxRateOut,
)
from services.jobs.service_layer import commands, estimates, handlers
from shared.eventstore import ConcurrencyConflict, EventTooLarge
from shared.http import FieldError, create_app, parse_body, query_choice, reply, shop_id
from shared.openapi import doc, one_of
from shared.pagination import MAX_ID_CHARS, MAX_PAGE, PAGE_QUERY, page_of, requested_page


def _wanted_ids(ids: list[str]) -> list[str] | None:
    """The customers a list is narrowed to (``customer_id`` repeated); None: no narrowing."""
    if len(ids) > MAX_PAGE or not all(0 < len(i) <= MAX_ID_CHARS for i in ids):
        reason = f"at most {MAX_PAGE} ids, each 1-{MAX_ID_CHARS} characters"
        raise FieldError("customer_id", reason)
    return ids or None


def build_app() -> Flask:
    app = create_app(
        bootstrap.SERVICE,
        bootstrap.wiring.settings.internal_api_token,
        bootstrap.wiring.ready,
        errors={
            UnknownJob: 404,
            UnknownEstimate: 404,
            EstimateNotDraft: 409,
            EstimateAlreadyDecided: 409,
            EmptyEstimate: 409,
            JobAlreadyClosed: 409,
            JobCanceled: 409,
            JobNotClosed: 409,
            InvoiceAlreadySent: 409,
            PricingError: 422,
            ConcurrencyConflict: 409,
            EventTooLarge: 413,
            JobTooLarge: 413,
        },
    )

    @app.post("/customers")
    @doc("Add a customer", body=commands.CreateCustomer, response=CustomerOut, status=201)
    def create_customer() -> tuple[Response, int]:
        cmd = parse_body(commands.CreateCustomer)
        customer = handlers.create_customer(shop_id(), cmd, _uow())
        return _reply(CustomerOut.of(customer), 201)

    @app.get("/customers")
    @doc(
        "The shop's customers, oldest first, keyset-paginated",
        response=CustomerPage,
        query={
            "name": "part of the name, any case",
            "customer_id": f"only these customers (repeat it for several, up to {MAX_PAGE})",
            "customer_type": one_of(
                "residential, commercial or property_manager", (t.value for t in CustomerType)
            ),
            **PAGE_QUERY,
        },
    )
    def list_customers() -> tuple[Response, int]:
        kind = query_choice("customer_type", {t.value for t in CustomerType})
        limit, after = requested_page(request.args)
        with bootstrap.wiring.pool.connection() as conn:
            items = views.list_customers(
                conn,
                shop_id(),
                limit=limit,
                after=after,
                name=request.args.get("name"),
                customer_type=kind,
                ids=_wanted_ids(request.args.getlist("customer_id")),
            )
        page = page_of(items, limit, views.CUSTOMERS)
        return _reply(CustomerPage.model_validate(page))

    @app.get("/customers/<customer_id>")
    @doc("One customer of the shop", response=CustomerOut)
    def get_customer(customer_id: str) -> tuple[Response, int]:
        with _uow() as uow:
            customer = uow.customers.get(shop_id(), customer_id)
        if customer is None:
            raise NotFound(f"customer {customer_id} not found")
        return _reply(CustomerOut.of(customer))

    @app.post("/customers/<customer_id>/locations")
    @doc(
        "Add a service location",
        body=commands.AddServiceLocation,
        response=ServiceLocationOut,
        status=201,
    )
    def add_service_location(customer_id: str) -> tuple[Response, int]:
        cmd = parse_body(commands.AddServiceLocation)
        try:
            location = handlers.add_service_location(shop_id(), customer_id, cmd, _uow())
        except UnknownCustomer as exc:
            raise NotFound(f"customer {customer_id} not found") from exc
        return _reply(ServiceLocationOut.of(location), 201)

    @app.get("/customers/<customer_id>/locations")
    @doc("The customer's service locations, oldest first", response=ServiceLocationList)
    def list_service_locations(customer_id: str) -> tuple[Response, int]:
        with _uow() as uow:
            if uow.customers.get(shop_id(), customer_id) is None:
                raise NotFound(f"customer {customer_id} not found")
            locations = uow.locations.for_customer(shop_id(), customer_id)
        items = [ServiceLocationOut.of(loc) for loc in locations]
        return _reply(ServiceLocationList(items=items))

    @app.post("/tax-rates")
    @doc(
        "Add a named tax rate (the shop's first one is its default)",
        body=commands.CreateTaxRate,
        response=TaxRateOut,
        status=201,
    )
    def create_tax_rate() -> tuple[Response, int]:
        cmd = parse_body(commands.CreateTaxRate)
        return _reply(TaxRateOut.of(handlers.create_tax_rate(shop_id(), cmd, _uow())), 201)

    @app.get("/tax-rates")
    @doc("The shop's tax rates, oldest first", response=TaxRateList)
    def list_tax_rates() -> tuple[Response, int]:
        with _uow() as uow:
            rates = uow.tax_rates.for_shop(shop_id())
        return _reply(TaxRateList(items=[TaxRateOut.of(rate) for rate in rates]))

    @app.post("/tax-rates/<tax_rate_id>/default")
    @doc("Make this the shop's default tax rate", response=TaxRateOut)
    def make_default_tax_rate(tax_rate_id: str) -> tuple[Response, int]:
        rate = handlers.make_default_tax_rate(shop_id(), tax_rate_id, _uow())
        if rate is None:
            raise NotFound(f"tax rate {tax_rate_id} not found")
        return _reply(TaxRateOut.of(rate))

    @app.post("/pricebook/items")
    @doc(
        "Add an item to the shop's pricebook",
        body=commands.CreatePricebookItem,
        response=PricebookItemOut,
        status=201,
    )
    def add_pricebook_item() -> tuple[Response, int]:
        cmd = parse_body(commands.CreatePricebookItem)
        item = handlers.add_pricebook_item(shop_id(), cmd, _uow())
        return _reply(PricebookItemOut.of(item), 201)

    @app.get("/pricebook/items")
    @doc(
        "The shop's pricebook, oldest first, keyset-paginated",
        response=PricebookPage,
        query={
            "search": "part of the name or SKU, any case",
            "active": one_of("true or false for archived items (default: both)", ("true", "false")),
            **PAGE_QUERY,
        },
    )
    def list_pricebook() -> tuple[Response, int]:
        active = query_choice("active", {"true", "false"})
        limit, after = requested_page(request.args)
        with bootstrap.wiring.pool.connection() as conn:
            items = views.list_pricebook(
                conn,
                shop_id(),
                limit=limit,
                after=after,
                search=request.args.get("search"),
                active=None if active is None else active == "true",
            )
        return _reply(PricebookPage.model_validate(page_of(items, limit, views.PRICEBOOK)))

    @app.get("/pricebook/items/<item_id>")
    @doc("One pricebook item", response=PricebookItemOut)
    def get_pricebook_item(item_id: str) -> tuple[Response, int]:
        with _uow() as uow:
            found = uow.pricebook.get_many(shop_id(), {item_id})
        if not found:
            raise NotFound(f"pricebook item {item_id} not found")
        return _reply(PricebookItemOut.of(found[0]))

    @app.patch("/pricebook/items/<item_id>")
    @doc(
        "Change an item's price, name, tax or archive it (jobs keep the price they were given)",
        body=commands.UpdatePricebookItem,
        response=PricebookItemOut,
    )
    def update_pricebook_item(item_id: str) -> tuple[Response, int]:
        cmd = parse_body(commands.UpdatePricebookItem)
        item = handlers.update_pricebook_item(shop_id(), item_id, cmd, _uow())
        if item is None:
            raise NotFound(f"pricebook item {item_id} not found")
        return _reply(PricebookItemOut.of(item))

    @app.post("/jobs")
    @doc(
        "Open a job with its line items and labor",
        body=commands.CreateJob,
        response=JobOut,
        status=201,
        errors=(413,),
    )
    def create_job() -> tuple[Response, int]:
        cmd = parse_body(commands.CreateJob)
        with _customer_and_place_checked():
            job = handlers.create_job(shop_id(), cmd, _uow())
        return _reply(JobOut.of(job), 201)

    @app.get("/jobs")
    @doc(
        "The shop's jobs, oldest first, keyset-paginated",
        response=JobPage,
        query={
            "status": one_of(
                "scheduled, in_progress, closed or canceled", (s.value for s in JobStatus)
            ),
            "customer_id": "only this customer's jobs",
            "technician": "only the jobs this technician is assigned to",
            **PAGE_QUERY,
        },
    )
    def list_jobs() -> tuple[Response, int]:
        status = query_choice("status", {s.value for s in JobStatus})
        limit, after = requested_page(request.args)
        with bootstrap.wiring.pool.connection() as conn:
            items = views.list_jobs(
                conn,
                shop_id(),
                limit=limit,
                after=after,
                status=status,
                customer_id=request.args.get("customer_id"),
                technician=request.args.get("technician"),
            )
        page = page_of(items, limit, views.JOBS)
        return _reply(JobPage.model_validate(page))

    @app.get("/jobs/<job_id>")
    @doc("One job of the shop", response=JobOut)
    def get_job(job_id: str) -> tuple[Response, int]:
        with _uow() as uow:
            job = uow.jobs.get(shop_id(), job_id)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        return _reply(JobOut.of(job))

    @app.post("/jobs/<job_id>/close")
    @doc(
        "Close the job: publishes JobClosed (a second close is 409)", response=JobOut, errors=(409,)
    )
    def close_job(job_id: str) -> tuple[Response, int]:
        cmd = commands.CloseJob(job_id=job_id)
        job = handlers.close_job(
            shop_id(), cmd, _uow(), bootstrap.utc_now, correlation_id=g.correlation_id
        )
        return _reply(JobOut.of(job))

    @app.post("/jobs/<job_id>/items")
    @doc(
        "A technician adds a line item in the field",
        body=commands.AddLineItem,
        response=JobOut,
        errors=(409, 413),
    )
    def add_line_item(job_id: str) -> tuple[Response, int]:
        cmd = parse_body(commands.AddLineItem)
        job = handlers.add_line_item(shop_id(), job_id, cmd, _uow(), bootstrap.utc_now)
        return _reply(JobOut.of(job))

    @app.post("/jobs/<job_id>/labor")
    @doc("A technician logs labor", body=commands.AddLaborEntry, response=JobOut, errors=(409, 413))
    def add_labor(job_id: str) -> tuple[Response, int]:
        cmd = parse_body(commands.AddLaborEntry)
        job = handlers.add_labor(shop_id(), job_id, cmd, _uow(), bootstrap.utc_now)
        return _reply(JobOut.of(job))

    @app.put("/jobs/<job_id>/technicians")
    @doc(
        "Assign the job's technicians (replaces the list)",
        body=commands.AssignTechnicians,
        response=JobOut,
        errors=(409,),
    )
    def assign_technicians(job_id: str) -> tuple[Response, int]:
        cmd = parse_body(commands.AssignTechnicians)
        return _reply(JobOut.of(handlers.assign_technicians(shop_id(), job_id, cmd, _uow())))

    @app.post("/jobs/<job_id>/notes")
    @doc("Write a note on the job", body=commands.AddNote, response=JobOut, errors=(413,))
    def add_note(job_id: str) -> tuple[Response, int]:
        cmd = parse_body(commands.AddNote)
        job = handlers.add_note(shop_id(), job_id, cmd, _uow(), bootstrap.utc_now)
        return _reply(JobOut.of(job))

    @app.post("/jobs/<job_id>/reopen")
    @doc(
        "Reopen a closed job before its invoice is sent: publishes JobReopened",
        body=commands.ReopenJob,
        response=JobOut,
        errors=(409,),
    )
    def reopen_job(job_id: str) -> tuple[Response, int]:
        cmd = parse_body(commands.ReopenJob, allow_empty=True)
        job = handlers.reopen_job(
            shop_id(), job_id, cmd, _uow(), bootstrap.utc_now, correlation_id=g.correlation_id
        )
        return _reply(JobOut.of(job))

    @app.post("/jobs/<job_id>/start")
    @doc("The technician started work on site", response=JobOut, errors=(409,))
    def start_job(job_id: str) -> tuple[Response, int]:
        return _reply(JobOut.of(handlers.start_job(shop_id(), job_id, _uow())))

    @app.post("/jobs/<job_id>/cancel")
    @doc("Cancel the job (it can no longer be closed or billed)", response=JobOut, errors=(409,))
    def cancel_job(job_id: str) -> tuple[Response, int]:
        return _reply(JobOut.of(handlers.cancel_job(shop_id(), job_id, _uow())))

    _estimate_routes(app)
    return app


def _estimate_routes(app: Flask) -> None:
    @app.post("/estimates")
    @doc(
        "Propose work and its price to a customer",
        body=commands.CreateEstimate,
        response=EstimateOut,
        status=201,
        errors=(413,),
    )
    def create_estimate() -> tuple[Response, int]:
        cmd = parse_body(commands.CreateEstimate)
        with _customer_and_place_checked():
            estimate = estimates.create_estimate(shop_id(), cmd, _uow())
        return _reply(EstimateOut.of(estimate), 201)

    @app.get("/estimates")
    @doc(
        "The shop's estimates, oldest first, keyset-paginated",
        response=EstimatePage,
        query={
            "status": one_of(
                "draft, sent, approved or declined", (s.value for s in EstimateStatus)
            ),
            "customer_id": "only this customer's estimates",
            **PAGE_QUERY,
        },
    )
    def list_estimates() -> tuple[Response, int]:
        status = query_choice("status", {s.value for s in EstimateStatus})
        limit, after = requested_page(request.args)
        with bootstrap.wiring.pool.connection() as conn:
            items = views.list_estimates(
                conn,
                shop_id(),
                limit=limit,
                after=after,
                status=status,
                customer_id=request.args.get("customer_id"),
            )
        return _reply(EstimatePage.model_validate(page_of(items, limit, views.ESTIMATES)))

    @app.get("/estimates/<estimate_id>")
    @doc("One estimate of the shop", response=EstimateOut)
    def get_estimate(estimate_id: str) -> tuple[Response, int]:
        with _uow() as uow:
            estimate = uow.estimates.get(shop_id(), estimate_id)
        if estimate is None:
            raise NotFound(f"estimate {estimate_id} not found")
        return _reply(EstimateOut.of(estimate))

    @app.post("/estimates/<estimate_id>/items")
    @doc(
        "Add a line to a draft estimate",
        body=commands.LineItemIn,
        response=EstimateOut,
        errors=(409, 413),
    )
    def add_estimate_line(estimate_id: str) -> tuple[Response, int]:
        cmd = parse_body(commands.LineItemIn)
        return _reply(
            EstimateOut.of(estimates.add_estimate_line(shop_id(), estimate_id, cmd, _uow()))
        )

    @app.post("/estimates/<estimate_id>/labor")
    @doc(
        "Add labor to a draft estimate",
        body=commands.LaborEntryIn,
        response=EstimateOut,
        errors=(409, 413),
    )
    def add_estimate_labor(estimate_id: str) -> tuple[Response, int]:
        cmd = parse_body(commands.LaborEntryIn)
        return _reply(
            EstimateOut.of(estimates.add_estimate_labor(shop_id(), estimate_id, cmd, _uow()))
        )

    @app.post("/estimates/<estimate_id>/send")
    @doc("Mark the estimate as sent to the customer", response=EstimateOut, errors=(409,))
    def send_estimate(estimate_id: str) -> tuple[Response, int]:
        estimate = estimates.send_estimate(shop_id(), estimate_id, _uow(), bootstrap.utc_now)
        return _reply(EstimateOut.of(estimate))

    @app.post("/estimates/<estimate_id>/approve")
    @doc(
        "Record the customer's approval: publishes EstimateApproved (a second one is 409)",
        body=commands.ApproveEstimate,
        response=EstimateOut,
        errors=(409,),
    )
    def approve_estimate(estimate_id: str) -> tuple[Response, int]:
        cmd = parse_body(commands.ApproveEstimate)
        estimate = estimates.approve_estimate(
            shop_id(),
            estimate_id,
            cmd,
            _uow(),
            bootstrap.utc_now,
            correlation_id=g.correlation_id,
        )
        return _reply(EstimateOut.of(estimate))

    @app.post("/estimates/<estimate_id>/decline")
    @doc(
        "Record that the customer declined",
        body=commands.DeclineEstimate,
        response=EstimateOut,
        errors=(409,),
    )
    def decline_estimate(estimate_id: str) -> tuple[Response, int]:
        cmd = parse_body(commands.DeclineEstimate, allow_empty=True)
        estimate = estimates.decline_estimate(
            shop_id(), estimate_id, cmd, _uow(), bootstrap.utc_now
        )
        return _reply(EstimateOut.of(estimate))


@contextmanager
def _customer_and_place_checked() -> Iterator[None]:
    """An unknown customer or location named in a body is a 422 on that field."""
    try:
        yield
    except UnknownCustomer as exc:
        raise FieldError("customer_id", "unknown customer") from exc
    except UnknownServiceLocation as exc:
        raise FieldError("service_location_id", "not a location of this customer") from exc


def _reply(body: BaseModel, status: int = 200) -> tuple[Response, int]:
    return reply(body, status)


def _uow() -> PostgresUnitOfWork:
    return PostgresUnitOfWork(bootstrap.wiring.pool)


app = build_app()
