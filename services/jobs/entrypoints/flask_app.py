"""HTTP API of the jobs service: translate, dispatch, map errors. No business rules here."""

from __future__ import annotations

from flask import Flask, Response, g, jsonify, request
from pydantic import BaseModel
from werkzeug.exceptions import NotFound

from services.jobs import bootstrap, views
from services.jobs.adapters.postgres import PostgresUnitOfWork
from services.jobs.domain.model import (
    CustomerType,
    JobAlreadyClosed,
    JobCanceled,
    JobStatus,
    JobTooLarge,
    UnknownCustomer,
    UnknownJob,
    UnknownServiceLocation,
)
from services.jobs.entrypoints.schemas import (
    CustomerOut,
    CustomerPage,
    JobOut,
    JobPage,
    ServiceLocationList,
    ServiceLocationOut,
)
from services.jobs.service_layer import commands, handlers
from shared.eventstore import ConcurrencyConflict, EventTooLarge
from shared.http import FieldError, create_app, parse_body, query_choice, shop_id
from shared.openapi import doc
from shared.pagination import PAGE_QUERY, page_of, requested_page


def build_app() -> Flask:
    app = create_app(
        bootstrap.SERVICE,
        bootstrap.wiring.settings.internal_api_token,
        bootstrap.wiring.ready,
        errors={
            UnknownJob: 404,
            JobAlreadyClosed: 409,
            JobCanceled: 409,
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
            "customer_type": "residential, commercial or property_manager",
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
        try:
            job = handlers.create_job(shop_id(), cmd, _uow())
        except UnknownCustomer as exc:
            raise FieldError("customer_id", "unknown customer") from exc
        except UnknownServiceLocation as exc:
            raise FieldError("service_location_id", "not a location of this customer") from exc
        return _reply(JobOut.of(job), 201)

    @app.get("/jobs")
    @doc(
        "The shop's jobs, oldest first, keyset-paginated",
        response=JobPage,
        query={
            "status": "open or closed",
            "customer_id": "only this customer's jobs",
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

    @app.post("/jobs/<job_id>/start")
    @doc("The technician started work on site", response=JobOut, errors=(409,))
    def start_job(job_id: str) -> tuple[Response, int]:
        return _reply(JobOut.of(handlers.start_job(shop_id(), job_id, _uow())))

    @app.post("/jobs/<job_id>/cancel")
    @doc("Cancel the job (it can no longer be closed or billed)", response=JobOut, errors=(409,))
    def cancel_job(job_id: str) -> tuple[Response, int]:
        return _reply(JobOut.of(handlers.cancel_job(shop_id(), job_id, _uow())))

    return app


def _reply(body: BaseModel, status: int = 200) -> tuple[Response, int]:
    return jsonify(body.model_dump(mode="json")), status


def _uow() -> PostgresUnitOfWork:
    return PostgresUnitOfWork(bootstrap.wiring.pool)


app = build_app()
