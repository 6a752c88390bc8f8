"""HTTP API of the jobs service: translate, dispatch, map errors. No business rules here."""

from __future__ import annotations

from flask import Flask, Response, g, jsonify
from pydantic import BaseModel
from werkzeug.exceptions import NotFound

from services.jobs import bootstrap
from services.jobs.adapters.postgres import PostgresUnitOfWork
from services.jobs.domain.model import (
    JobAlreadyClosed,
    JobTooLarge,
    UnknownCustomer,
    UnknownJob,
    UnknownServiceLocation,
)
from services.jobs.entrypoints.schemas import (
    CustomerOut,
    JobOut,
    ServiceLocationList,
    ServiceLocationOut,
)
from services.jobs.service_layer import commands, handlers
from shared.eventstore import ConcurrencyConflict, EventTooLarge
from shared.http import FieldError, create_app, parse_body, shop_id
from shared.openapi import doc


def build_app() -> Flask:
    app = create_app(
        bootstrap.SERVICE,
        bootstrap.wiring.settings.internal_api_token,
        bootstrap.wiring.ready,
        errors={
            UnknownJob: 404,
            JobAlreadyClosed: 409,
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

    return app


def _reply(body: BaseModel, status: int = 200) -> tuple[Response, int]:
    return jsonify(body.model_dump(mode="json")), status


def _uow() -> PostgresUnitOfWork:
    return PostgresUnitOfWork(bootstrap.wiring.pool)


app = build_app()
