"""Fuzz every service's HTTP API from its own OpenAPI document (schemathesis) on the running
platform: no answer is a 5xx, every status and body is one the document declares, and no process
logs a traceback.

The run is seeded and derandomized, so a failure reproduces with the same command. ``make test``
runs a few cases per operation; ``make fuzz`` runs many more (``FUZZ_EXAMPLES``) and prints a
table per service. Path and query parameters that name a thing (``invoice_id``, ``token`` …) take
either a generated value or the id of a real, seeded object, so the fuzzer reaches past the 404."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.core.failures import FailureGroup, as_reported_failure
from schemathesis.core.result import Err
from schemathesis.hooks import HookContext
from schemathesis.pytest.lazy import get_all_tests
from schemathesis.schemas import BaseSchema

from tests.support.api import Api, address, create_customer, create_job, job_body
from tests.support.platform import TOKEN, RunningPlatform, wait_for

pytestmark = pytest.mark.e2e
SERVICES = ("jobs", "invoicing", "notifications", "payments", "reporting")
SHOP = "shop-fuzz"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
AUTHORIZED = {"Authorization": f"Bearer {TOKEN}"}
COVERAGE = os.environ.get("FUZZ_COVERAGE") == "1"
SEED = int(os.environ.get("FUZZ_SEED", "20261126"))
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)


@dataclass
class Tally:
    """What the run did, per service: operations fuzzed, cases sent and how they were answered,
    operations that failed."""

    operations: dict[str, set[str]] = field(default_factory=dict)
    cases: Counter[str] = field(default_factory=Counter)
    answers: Counter[tuple[str, str]] = field(default_factory=Counter)
    failed: dict[str, set[str]] = field(default_factory=dict)

    def case(self, service: str, operation: str, status: int) -> None:
        self.operations.setdefault(service, set()).add(operation)
        self.cases[service] += 1
        self.answers[service, f"{status // 100}xx"] += 1
        self.answers[operation, f"{status // 100}xx"] += 1

    def failure(self, service: str, operation: str) -> None:
        self.failed.setdefault(service, set()).add(operation)

    def table(self) -> list[str]:
        rows = [
            f"{'service':<14}{'operations':>11}{'cases':>8}{'2xx':>7}{'4xx':>7}{'failures':>10}"
        ]
        for service in SERVICES:
            rows.append(
                f"{service:<14}{len(self.operations.get(service, ())):>11}"
                f"{self.cases[service]:>8}{self.answers[service, '2xx']:>7}"
                f"{self.answers[service, '4xx']:>7}{len(self.failed.get(service, ())):>10}"
            )
        return rows

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.write_sep("=", f"fuzz: {EXAMPLES} examples per operation, seed {SEED}")
        for row in self.table():
            terminalreporter.write_line(row)


@pytest.fixture(scope="module")
def tally(request: pytest.FixtureRequest) -> Tally:
    counts = Tally()
    request.config.pluginmanager.register(counts, "fuzz-tally")
    return counts


@pytest.fixture(scope="module")
def real_ids(module_platform: RunningPlatform) -> dict[str, str]:
    """A customer with a location, a tax rate, a pricebook item, an open job, a closed job, an
    estimate and a sent invoice (known to payments and notifications): ids the fuzzer may use."""
    jobs = Api(module_platform.url("jobs-web"), SHOP)
    invoicing = Api(module_platform.url("invoicing-web"), SHOP)
    customer = create_customer(jobs)
    location = jobs.post(
        f"/customers/{customer}/locations", {"name": "Shop", "address": address(3)}
    )
    assert location.status_code == 201, location.text
    rate = jobs.post("/tax-rates", {"name": "County", "percent": "8"})
    item = jobs.post("/pricebook/items", {"name": "Valve", "unit_price_cents": 900})
    estimate = jobs.post("/estimates", job_body(customer))
    assert {rate.status_code, item.status_code, estimate.status_code} == {201}
    job = create_job(jobs, customer)
    invoice = sent_invoice(invoicing, customer)
    token = invoice["pay_url"].rsplit("/p/", 1)[1]
    pay_page = f"{module_platform.url('payments-web')}/p/{token}"
    wait_for(lambda: requests.get(pay_page, timeout=5).ok, 20, "payments' copy of the invoice")
    return {
        "customer_id": customer,
        "location_id": location.json()["location_id"],
        "tax_rate_id": rate.json()["tax_rate_id"],
        "item_id": item.json()["item_id"],
        "estimate_id": estimate.json()["estimate_id"],
        "job_id": job,
        "invoice_id": invoice["invoice_id"],
        "line_id": invoice["lines"][0]["line_id"],
        "token": token,
    }


def sent_invoice(invoicing: Api, customer_id: str) -> dict[str, Any]:
    body = {
        "customer": {
            "customer_id": customer_id,
            "name": "Pat Doe",
            "email": "pat@example.com",
            "phone": "+15595550100",
            "billing_address": address(9),
            "payment_terms_days": 30,
        },
        "service_address": address(2),
        "lines": [{"description": "Call-out", "quantity": "1", "unit_price_cents": 9900}],
    }
    created = invoicing.post("/invoices", body)
    assert created.status_code == 201, created.text
    sent = invoicing.post(f"/invoices/{created.json()['invoice_id']}/send")
    assert sent.status_code == 200, sent.text
    result: dict[str, Any] = sent.json()
    return result


def config(base_url: str) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "base-url": base_url,
            "generation": {
                "max-examples": EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "phases": {"stateful": {"enabled": False}, "coverage": {"enabled": COVERAGE}},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        }
    )


@pytest.fixture(scope="module", params=SERVICES)
def api(
    request: pytest.FixtureRequest, module_platform: RunningPlatform, real_ids: dict[str, str]
) -> Iterator[BaseSchema]:
    service: str = request.param
    base = module_platform.url(f"{service}-web")
    raw = requests.get(base + "/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(raw, config=config(base))
    for part in ("path_parameters", "query", "body"):
        schema.hook(f"before_generate_{part}")(mostly_real(real_ids))
    schema.hook("before_generate_headers")(mostly_real({"X-Shop-Id": SHOP}))
    yield schema


def mostly_real(ids: dict[str, str]) -> Any:
    """Three cases in four name a real object (or the seeded shop) wherever the operation takes
    one by that name — in the path, the query, the headers or at the top of the JSON body."""

    def real(generated: Any) -> Any:
        if not isinstance(generated, dict):
            return generated
        return {**generated, **{k: v for k, v in ids.items() if k in generated}}

    def hook(context: HookContext, strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        choice = st.tuples(strategy, st.integers(0, 3))
        return choice.map(lambda pair: real(pair[0]) if pair[1] else pair[0])

    return hook


def test_every_answer_is_declared_and_none_is_a_server_error(
    api: BaseSchema, tally: Tally, subtests: pytest.Subtests
) -> None:
    service = api.raw_schema["info"]["title"].split()[1]

    def call(case: Case[Any]) -> None:
        response = case.call(headers=AUTHORIZED, timeout=15)
        tally.case(service, case.operation.label, response.status_code)
        case.validate_response(response, headers=AUTHORIZED)

    for built in get_all_tests(schema=api, test_func=call, settings=None, given_kwargs=None):
        if isinstance(built, Err):
            raise built.err()  # the document describes an operation so badly none can be made
        operation, run = built.ok()
        with subtests.test(operation.label):
            try:
                run()
            except BaseException as exc:  # schemathesis's FailureGroup is a BaseExceptionGroup
                tally.failure(service, operation.label)
                if isinstance(exc, FailureGroup):
                    raise as_reported_failure(exc) from None
                raise


def test_no_process_logged_a_traceback(module_platform: RunningPlatform, tally: Tally) -> None:
    assert sum(tally.cases.values()) > 0, "the fuzz run did not run first"
    logged = {
        log.name: log.read_text(errors="replace").count("Traceback")
        for log in module_platform.log_dir.glob("*.log")
    }
    assert logged, "no process logs found"
    failing = {name: n for name, n in logged.items() if n}
    first = next(iter(failing), None)
    assert not failing, (
        f"{failing}; {first}:\n{module_platform.log_tail(first[:-4], 40) if first else ''}"
    )
