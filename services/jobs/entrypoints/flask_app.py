"""HTTP API of the jobs service: translate, dispatch, map errors. No business rules here."""

from __future__ import annotations

from flask import Flask, Response, g, jsonify
from werkzeug.exceptions import NotFound

from services.jobs import bootstrap, views
from services.jobs.adapters.postgres import PostgresUnitOfWork
from services.jobs.domain.model import (
    JobAlreadyClosed,
    JobTooLarge,
    UnknownCustomer,
    UnknownJob,
)
from services.jobs.service_layer import commands, handlers
from shared.eventstore import ConcurrencyConflict, EventTooLarge
from shared.http import FieldError, create_app, parse_body, shop_id


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
    def create_customer() -> tuple[Response, int]:
        cmd = parse_body(commands.CreateCustomer)
        customer = handlers.create_customer(shop_id(), cmd, _uow())
        return jsonify(views.customer_view(customer)), 201

    @app.get("/customers/<customer_id>")
    def get_customer(customer_id: str) -> Response:
        with _uow() as uow:
            customer = uow.customers.get(shop_id(), customer_id)
        if customer is None:
            raise NotFound(f"customer {customer_id} not found")
        return jsonify(views.customer_view(customer))

    @app.post("/jobs")
    def create_job() -> tuple[Response, int]:
        cmd = parse_body(commands.CreateJob)
        try:
            job = handlers.create_job(shop_id(), cmd, _uow())
        except UnknownCustomer as exc:
            raise FieldError("customer_id", "unknown customer") from exc
        return jsonify(views.job_view(job)), 201

    @app.get("/jobs/<job_id>")
    def get_job(job_id: str) -> Response:
        with _uow() as uow:
            job = uow.jobs.get(shop_id(), job_id)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        return jsonify(views.job_view(job))

    @app.post("/jobs/<job_id>/close")
    def close_job(job_id: str) -> Response:
        cmd = commands.CloseJob(job_id=job_id)
        job = handlers.close_job(
            shop_id(), cmd, _uow(), bootstrap.utc_now, correlation_id=g.correlation_id
        )
        return jsonify(views.job_view(job))

    return app


def _uow() -> PostgresUnitOfWork:
    return PostgresUnitOfWork(bootstrap.wiring.pool)


app = build_app()
