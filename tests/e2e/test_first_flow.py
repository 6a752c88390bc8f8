"""The first flow through the running processes: close jobs over HTTP, drafts appear over HTTP,
and an outside Kafka client sees exactly one event of each kind per job, valid against the
schema."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jsonschema
import pytest

from shared.contracts.generate import OUT as CONTRACTS
from tests.support.api import Api, close_job, create_customer, create_job
from tests.support.platform import RunningPlatform, wait_for
from tests.support.topics import read_all

pytestmark = pytest.mark.e2e
CE_HEADERS = (
    "ce_id",
    "ce_type",
    "ce_source",
    "ce_specversion",
    "ce_time",
    "ce_subject",
    "ce_tenant",
    "ce_correlationid",
)


def drafts(invoicing: Api) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"status": "draft", "limit": 200, **({"after": cursor} if cursor else {})}
        page = invoicing.get("/invoices", **params).json()
        items += page["items"]
        cursor = page["next"]
        if not cursor:
            return items


def validator(event_type: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((CONTRACTS / "schemas" / f"{event_type}.v1.json").read_text())
    return jsonschema.Draft202012Validator(schema)


def test_closed_jobs_become_drafts_once_each_on_the_topics(
    platform: RunningPlatform, service_env: dict[str, str]
) -> None:
    jobs = Api(platform.url("jobs-web"), "shop-a")
    invoicing = Api(platform.url("invoicing-web"), "shop-a")
    customer = create_customer(jobs)
    job_ids = [create_job(jobs, customer) for _ in range(30)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda j: close_job(jobs, j), job_ids))

    found = wait_for(lambda: len(drafts(invoicing)) == 30 and drafts(invoicing), 20, "30 drafts")
    assert sorted(d["job_id"] for d in found) == sorted(job_ids)
    draft = invoicing.get(f"/invoices/{found[0]['invoice_id']}").json()
    # 1 × 1299.00 + 3 × 3.33 taxed at 7.25 %, labor 2.5 h × 110.00 untaxed
    assert draft["totals"] == {
        "subtotal_cents": 129900 + 999 + 27500,
        "tax_cents": 9418 + 72,
        "total_cents": 167889,
    }
    assert [line["kind"] for line in draft["lines"]] == ["item", "item", "labor"]

    bootstrap = service_env["KAFKA_BOOTSTRAP_SERVERS"]
    for topic, subject_field in (("JobClosed", "job_id"), ("InvoiceDrafted", "invoice_id")):
        messages = read_all(bootstrap, topic, expect_at_least=30)
        check = validator(topic)
        assert len(messages) == 30, f"{topic}: {len(messages)} messages for 30 jobs"
        for message in messages:
            assert all(message.headers.get(h) for h in CE_HEADERS), message.headers
            assert message.headers["ce_type"] == topic
            assert message.headers["ce_specversion"] == "1.0"
            assert message.headers["ce_tenant"] == "shop-a"
            value = json.loads(message.value or b"")
            check.validate(value)
            assert message.key == value[subject_field].encode()
        if topic == "JobClosed":
            assert sorted(json.loads(m.value or b"")["job_id"] for m in messages) == sorted(job_ids)


def test_one_shop_never_sees_another_shops_drafts(platform: RunningPlatform) -> None:
    jobs_a, jobs_b = (
        Api(platform.url("jobs-web"), "shop-a"),
        Api(platform.url("jobs-web"), "shop-b"),
    )
    inv_a, inv_b = (Api(platform.url("invoicing-web"), s) for s in ("shop-a", "shop-b"))
    job_a = create_job(jobs_a, create_customer(jobs_a))
    close_job(jobs_a, job_a)
    found = wait_for(lambda: drafts(inv_a), 10, "shop-a draft")
    assert drafts(inv_b) == []
    assert inv_b.get(f"/invoices/{found[0]['invoice_id']}").status_code == 404
    assert jobs_b.get(f"/jobs/{job_a}").status_code == 404
    assert jobs_b.post(f"/jobs/{job_a}/close").status_code == 404
