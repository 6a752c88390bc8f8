"""A malformed message on JobClosed lands in JobClosed.dlq with its error; the next job drafts."""

from __future__ import annotations

import json

import pytest
from kafka import KafkaProducer

from tests.support.api import Api, close_job, create_customer, create_job
from tests.support.platform import RunningPlatform, wait_for
from tests.support.topics import read_all

pytestmark = pytest.mark.e2e


def test_malformed_job_closed_goes_to_dlq_and_the_next_job_is_drafted(
    platform: RunningPlatform, service_env: dict[str, str]
) -> None:
    bootstrap = service_env["KAFKA_BOOTSTRAP_SERVERS"]
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    good_headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"bad-1"),
        ("ce_type", b"JobClosed"),
        ("ce_source", b"/test"),
        ("ce_tenant", b"shop-a"),
        ("ce_time", b"2026-11-25T10:00:00+00:00"),
    ]
    producer.send("JobClosed", key=b"k1", value=b"{this is not json")
    producer.send(
        "JobClosed", key=b"k2", value=json.dumps({"job_id": "x"}).encode(), headers=good_headers
    )
    producer.flush()
    producer.close()

    jobs = Api(platform.url("jobs-web"), "shop-a")
    invoicing = Api(platform.url("invoicing-web"), "shop-a")
    job = create_job(jobs, create_customer(jobs))
    close_job(jobs, job)
    wait_for(lambda: invoicing.get("/invoices", job_id=job).json()["items"], 15, "the draft")

    dead = read_all(bootstrap, "JobClosed.dlq", expect_at_least=2)
    by_key = {m.key: m for m in dead}
    assert set(by_key) == {b"k1", b"k2"}
    assert "missing headers" in by_key[b"k1"].headers["dlq_error"]
    assert by_key[b"k1"].value == b"{this is not json"
    assert "customer: Field required" in by_key[b"k2"].headers["dlq_error"]
    assert by_key[b"k2"].headers["dlq_original_topic"] == "JobClosed"
    assert by_key[b"k2"].headers["ce_id"] == "bad-1"
    assert platform.running["invoicing-consumer"].poll() is None
