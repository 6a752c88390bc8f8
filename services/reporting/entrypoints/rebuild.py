"""Rebuild the AR aging read model from the topics (they keep their whole history).

    python -m services.reporting.entrypoints.rebuild [--force]

Stop the reporting consumer first (Kubernetes: scale `reporting-consumer` to 0); the command
refuses while its group has members. It reads where each partition ends now, drops the read model
(bucket settings stay), replays every fact from the beginning to those ends, folding each invoice
in memory with the same code the consumer runs, writes the result with COPY, and sets the
consumer group's offsets to those ends, so the consumer, started again, goes on from there. A
progress bar runs while it reads; the final line gives the rate."""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import psycopg
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata
from tqdm import tqdm

from services.reporting import bootstrap
from services.reporting.domain.ledger import FACTS, InvoiceFacts, contributions, to_record
from services.reporting.entrypoints.consumer import GROUP
from shared.envelope import MalformedEvent, decode
from shared.kafka import group_members

TABLES = (
    "ar_invoices",
    "ar_contributions",
    "ar_changes",
    "ar_due",
    "ar_customer_due",
    "ar_customers",
)


@dataclass
class Replay:
    invoices: dict[str, InvoiceFacts] = field(default_factory=dict)
    events: int = 0
    skipped: int = 0

    def apply(self, headers: list[tuple[str, bytes]], value: bytes | None) -> None:
        self.events += 1
        try:
            envelope = decode(headers, value)
            event = envelope.event
            shop = getattr(event, "shop_id", "")
            if shop != envelope.tenant:
                raise MalformedEvent("tenant mismatch")
            facts = self.invoices.get(event.subject)
            if facts is None:
                facts = self.invoices[event.subject] = InvoiceFacts(event.subject, shop)
            facts.record(event)
        except Exception:  # what the live consumer dead-letters, the rebuild skips
            self.skipped += 1


def ends(bootstrap_servers: str) -> dict[TopicPartition, int]:
    probe = KafkaConsumer(bootstrap_servers=bootstrap_servers.split(","), enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(fact.topic, p)
            for fact in FACTS
            for p in sorted(probe.partitions_for_topic(fact.topic) or ())
        ]
        return dict(probe.end_offsets(partitions))
    finally:
        probe.close()


def replay(
    bootstrap_servers: str, until: dict[TopicPartition, int], progress: bool = True
) -> Replay:
    state = Replay()
    total = sum(until.values())
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers.split(","),
        enable_auto_commit=False,
        max_poll_records=5000,
        fetch_max_wait_ms=20,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    left = {tp: end for tp, end in until.items() if end > 0}
    consumer.assign(list(left))
    consumer.seek_to_beginning(*left)
    bar = tqdm(total=total, unit="ev", unit_scale=True, disable=not progress, file=sys.stderr)
    try:
        while left:
            for tp, records in consumer.poll(timeout_ms=500).items():
                end = left.get(tp)
                if end is None:
                    continue
                for record in records:
                    if record.offset >= end:
                        break
                    state.apply(record.headers, record.value)
                bar.update(sum(1 for r in records if r.offset < end))
                if records[-1].offset >= end - 1:
                    left.pop(tp)
                    consumer.pause(tp)
    finally:
        bar.close()
        consumer.close()
    return state


def write(conn: psycopg.Connection, state: Replay) -> None:
    """Drop the read model and write the replayed one (one transaction)."""
    conn.execute("TRUNCATE " + ", ".join(TABLES))
    conn.execute("DELETE FROM inbox WHERE consumer = %s", (GROUP,))
    changes: dict[tuple[str, date, date], list[int]] = defaultdict(lambda: [0, 0])
    due: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0])
    customer_due: dict[tuple[str, str, date], list[int]] = defaultdict(lambda: [0, 0])
    names: dict[tuple[str, str], str] = {}
    zones: dict[str, str] = {}
    with conn.cursor() as cur:
        with cur.copy(
            "COPY ar_invoices (invoice_id, shop_id, number, customer_id, facts) FROM STDIN"
        ) as copy:
            for facts in state.invoices.values():
                copy.write_row(
                    (
                        facts.invoice_id,
                        facts.shop_id,
                        facts.number,
                        facts.customer_id,
                        _json(to_record(facts)),
                    )
                )
        with cur.copy(
            "COPY ar_contributions (invoice_id, shop_id, customer_id, due_date, day, cents, count)"
            " FROM STDIN"
        ) as copy:
            for facts in state.invoices.values():
                shop = facts.shop_id
                if facts.sent_at is not None:
                    names[(shop, facts.customer_id)] = facts.customer_name
                    zones[shop] = facts.zone
                for (customer, due_on, day), (cents, count) in contributions(facts).items():
                    copy.write_row((facts.invoice_id, shop, customer, due_on, day, cents, count))
                    _add(changes[(shop, due_on, day)], cents, count)
                    _add(due[(shop, due_on)], cents, count)
                    _add(customer_due[(shop, customer, due_on)], cents, count)
        _copy(cur, "ar_changes (shop_id, due_date, day, cents, count)", changes)
        _copy(cur, "ar_due (shop_id, due_date, cents, count)", due)
        _copy(cur, "ar_customer_due (shop_id, customer_id, due_date, cents, count)", customer_due)
        with cur.copy("COPY ar_customers (shop_id, customer_id, name) FROM STDIN") as copy:
            for (shop, customer), name in names.items():
                copy.write_row((shop, customer, name))
        cur.executemany(
            "INSERT INTO ar_shops (shop_id, time_zone) VALUES (%s, %s) ON CONFLICT (shop_id)"
            " DO UPDATE SET time_zone = excluded.time_zone",
            list(zones.items()),
        )


def _add(sums: list[int], cents: int, count: int) -> None:
    sums[0] += cents
    sums[1] += count


def _copy(cur: psycopg.Cursor, table: str, sums: Mapping[tuple[Any, ...], list[int]]) -> None:
    with cur.copy(f"COPY {table} FROM STDIN") as copy:
        for key, (cents, count) in sums.items():
            copy.write_row((*key, cents, count))


def _json(record: dict[str, object]) -> str:
    return json.dumps(record, separators=(",", ":"))


def hand_over(bootstrap_servers: str, until: dict[TopicPartition, int]) -> None:
    """The live consumer goes on from where the replay stopped."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers.split(","), group_id=GROUP, enable_auto_commit=False
    )
    try:
        consumer.assign(list(until))
        consumer.commit({tp: OffsetAndMetadata(end, "", -1) for tp, end in until.items()})
    finally:
        consumer.close()


def rebuild(progress: bool = True) -> tuple[Replay, float]:
    settings = bootstrap.wiring.settings
    servers = settings.kafka_bootstrap_servers
    until = ends(servers)
    started = time.perf_counter()
    state = replay(servers, until, progress)
    with psycopg.connect(bootstrap.wiring.database_url) as conn:
        write(conn, state)
    hand_over(servers, until)
    return state, time.perf_counter() - started


def main() -> int:
    servers = bootstrap.wiring.settings.kafka_bootstrap_servers
    if "--force" not in sys.argv and group_members(servers, GROUP):
        print(
            f"the consumer group {GROUP!r} has members: stop reporting-consumer first (a member "
            "left by a crashed consumer goes when its session expires; --force skips this check)"
        )
        return 2
    state, seconds = rebuild()
    rate = state.events / seconds if seconds else 0.0
    print(
        f"rebuilt: {len(state.invoices):,} invoices from {state.events:,} events "
        f"({state.skipped:,} skipped as malformed) in {seconds:.1f} s — {rate:,.0f} events/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
