"""Rebuild the AR aging read model from the topics (they keep their whole history).

    python -m services.reporting.entrypoints.rebuild [--force]

Stop the reporting consumer first (Kubernetes: scale `reporting-consumer` to 0); the command
refuses while its group has members. It reads where each partition ends now, drops the read model
(bucket settings stay), and replays every fact from the beginning to those ends in worker
processes (partition p to worker p % workers: events are keyed by invoice, so each worker holds
whole invoices), folding each invoice in memory with the same code the consumer runs and writing
with COPY; then it adds the workers' sums up and sets the consumer group's offsets to where the
replay stopped, so the consumer, started again, goes on from there. Reports are incomplete while
it runs, and the read model's indexes are rebuilt at its end: if it stops midway, run it again.
A progress bar runs while it reads; the final line gives the rate."""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import psycopg
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.structs import OffsetAndMetadata
from tqdm import tqdm

from services.reporting import bootstrap
from services.reporting.domain.ledger import FACTS, InvoiceFacts, contributions, to_record
from services.reporting.entrypoints.consumer import GROUP
from shared.envelope import MalformedEvent, checked
from shared.kafka import group_members

WORKERS = max(2, min(4, os.cpu_count() or 2))
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
    reached: dict[TopicPartition, int] = field(default_factory=dict)

    def apply(self, headers: list[tuple[str, bytes]], value: bytes | None) -> None:
        self.events += 1
        try:
            meta, event = checked(headers, value)
            shop = getattr(event, "shop_id", "")
            if shop != meta["ce_tenant"]:
                raise MalformedEvent("tenant mismatch")
            facts = self.invoices.get(event.subject)
            if facts is None:
                facts = self.invoices[event.subject] = InvoiceFacts(event.subject, shop)
            facts.fold(event)
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


def reader(servers: str, until: dict[TopicPartition, int]) -> KafkaConsumer:
    consumer = KafkaConsumer(
        bootstrap_servers=servers.split(","),
        enable_auto_commit=False,
        max_poll_records=5000,
        fetch_max_wait_ms=20,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    consumer.assign(list(until))
    consumer.seek_to_beginning(*until)
    return consumer


def read_all(
    consumer: KafkaConsumer,
    until: dict[TopicPartition, int],
    take: Callable[[list[ConsumerRecord]], None],
) -> dict[TopicPartition, int]:
    """Hand every record to ``take``, batch by batch, until each partition is read to where it
    ended when the rebuild started; returns where each was left. The end is the larger of the
    broker's ListOffsets answer and the high watermark of the first fetch (Tansu's ListOffsets
    answers the first offset of the last batch + 1 — 34,708 of 36,033 records measured — while its
    fetch responses carry the true high watermark)."""
    target: dict[TopicPartition, int] = {}
    while True:
        for records in consumer.poll(timeout_ms=500).values():
            take(records)
        for tp in until:
            if tp not in target and (high := consumer.highwater(tp)) is not None:
                target[tp] = max(until[tp], high)
        if len(target) == len(until) and all(
            consumer.position(tp) >= end for tp, end in target.items()
        ):
            return {tp: consumer.position(tp) for tp in until}


def replay(
    servers: str, until: dict[TopicPartition, int], read: Callable[[int], None] = lambda n: None
) -> Replay:
    """Every fact from the beginning to where each partition ended (``read_all``), folded."""
    state = Replay()

    def take(records: list[ConsumerRecord]) -> None:
        for record in records:
            state.apply(record.headers, record.value)
        read(len(records))

    consumer = reader(servers, until)
    try:
        state.reached = read_all(consumer, until, take)
    finally:
        consumer.close()
    return state


def write_part(conn: psycopg.Connection, state: Replay) -> None:
    """This worker's invoices and contributions (its partitions hold whole invoices: events are
    keyed by invoice), and its partial sums and customer names for the merge."""
    changes: dict[tuple[str, date, date], list[int]] = defaultdict(lambda: [0, 0])
    due: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0])
    customer_due: dict[tuple[str, str, date], list[int]] = defaultdict(lambda: [0, 0])
    names: dict[tuple[str, str], tuple[str, str, datetime]] = {}
    invoices: list[tuple[object, ...]] = []
    rows: list[tuple[object, ...]] = []
    for f in state.invoices.values():
        shop = f.shop_id
        invoices.append((f.invoice_id, shop, f.number, f.customer_id, _json(to_record(f))))
        if f.sent_at is not None:
            names[(shop, f.customer_id)] = (f.customer_name, f.zone, f.sent_at)
        for (customer, due_on, day), (cents, count) in contributions(f).items():
            rows.append((f.invoice_id, shop, customer, due_on, day, cents, count))
            _add(changes[(shop, due_on, day)], cents, count)
            _add(due[(shop, due_on)], cents, count)
            _add(customer_due[(shop, customer, due_on)], cents, count)
    sums: list[tuple[object, ...]] = [
        (0, shop, "", d, day, c, n) for (shop, d, day), (c, n) in changes.items()
    ]
    sums += [(1, shop, "", d, None, c, n) for (shop, d), (c, n) in due.items()]
    sums += [(2, shop, who, d, None, c, n) for (shop, who, d), (c, n) in customer_due.items()]
    with conn.cursor() as cur:
        _copy(cur, "ar_invoices (invoice_id, shop_id, number, customer_id, facts)", invoices)
        _copy(
            cur,
            "ar_contributions (invoice_id, shop_id, customer_id, due_date, day, cents, count)",
            rows,
        )
        _copy(
            cur, "ar_rebuild_sums (kind, shop_id, customer_id, due_date, day, cents, count)", sums
        )
        _copy(cur, "ar_rebuild_names", [(*k, *v) for k, v in names.items()])


def _copy(cur: psycopg.Cursor, table: str, rows: Sequence[tuple[object, ...]]) -> None:
    """COPY in PostgreSQL's text format, built here in large chunks (several times faster than a
    call per row)."""
    with cur.copy(f"COPY {table} FROM STDIN") as copy:
        for start in range(0, len(rows), 20_000):
            chunk = rows[start : start + 20_000]
            copy.write("".join("\t".join(map(_field, row)) + "\n" for row in chunk))


def _field(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(COPY_ESCAPES)
    return str(value)


COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


START = [
    "TRUNCATE " + ", ".join((*TABLES, "ar_rebuild_sums", "ar_rebuild_names")),
    f"DELETE FROM inbox WHERE consumer = '{GROUP}'",
    # Loading without indexes and building them once afterwards is several times faster.
    "ALTER TABLE ar_invoices DROP CONSTRAINT IF EXISTS ar_invoices_pkey",
    "ALTER TABLE ar_contributions DROP CONSTRAINT IF EXISTS ar_contributions_pkey",
    "DROP INDEX IF EXISTS ar_contributions_by_due",
    "DROP INDEX IF EXISTS ar_contributions_by_customer",
]
INDEXES = [
    [
        "ALTER TABLE ar_invoices ADD CONSTRAINT ar_invoices_pkey PRIMARY KEY (invoice_id)",
        "CREATE INDEX IF NOT EXISTS ar_contributions_by_due ON ar_contributions"
        " (shop_id, due_date)",
    ],
    [
        "ALTER TABLE ar_contributions ADD CONSTRAINT ar_contributions_pkey"
        " PRIMARY KEY (invoice_id, customer_id, due_date, day)",
        "CREATE INDEX IF NOT EXISTS ar_contributions_by_customer ON ar_contributions"
        " (shop_id, customer_id)",
    ],
]
"""Built after the load, two connections at once (the merge's third)."""
MERGE = [
    "INSERT INTO ar_changes SELECT shop_id, due_date, day, sum(cents), sum(count)"
    " FROM ar_rebuild_sums WHERE kind = 0 GROUP BY shop_id, due_date, day",
    "INSERT INTO ar_due SELECT shop_id, due_date, sum(cents), sum(count)"
    " FROM ar_rebuild_sums WHERE kind = 1 GROUP BY shop_id, due_date",
    "INSERT INTO ar_customer_due SELECT shop_id, customer_id, due_date, sum(cents), sum(count)"
    " FROM ar_rebuild_sums WHERE kind = 2 GROUP BY shop_id, customer_id, due_date",
    "INSERT INTO ar_customers SELECT DISTINCT ON (shop_id, customer_id) shop_id, customer_id,"
    " name FROM ar_rebuild_names ORDER BY shop_id, customer_id, zone_since DESC",
    "INSERT INTO ar_shops (shop_id, time_zone, zone_since) SELECT DISTINCT ON (shop_id) shop_id,"
    " time_zone, zone_since FROM ar_rebuild_names ORDER BY shop_id, zone_since DESC"
    " ON CONFLICT (shop_id) DO UPDATE"
    " SET time_zone = excluded.time_zone, zone_since = excluded.zone_since",
    "TRUNCATE ar_rebuild_sums, ar_rebuild_names",
]


def _run(url: str, statements: list[str]) -> None:
    with psycopg.connect(url) as conn:
        for statement in statements:
            conn.execute(statement)


def _add(sums: list[int], cents: int, count: int) -> None:
    sums[0] += cents
    sums[1] += count


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


@dataclass(frozen=True)
class Part:
    events: int
    skipped: int
    invoices: int
    reached: dict[TopicPartition, int]
    replay_seconds: float
    write_seconds: float


_progress: Any = None
"""The shared count of records read (a worker adds to it; the command shows it)."""


def _share(counter: Any) -> None:
    global _progress
    _progress = counter


def rebuild_part(servers: str, url: str, until: dict[TopicPartition, int]) -> Part:
    """One worker process: replay its partitions, write its share."""

    def read(n: int) -> None:
        with _progress.get_lock():
            _progress.value += n

    started = time.perf_counter()
    state = replay(servers, until, read)
    replayed = time.perf_counter()
    with psycopg.connect(url) as conn:
        write_part(conn, state)
    return Part(
        state.events,
        state.skipped,
        len(state.invoices),
        state.reached,
        replayed - started,
        time.perf_counter() - replayed,
    )


@dataclass(frozen=True)
class Outcome:
    events: int
    skipped: int
    invoices: int
    seconds: float
    parts: list[Part]
    merge_seconds: float


def rebuild(servers: str, url: str, progress: bool = True, workers: int = WORKERS) -> Outcome:
    """Drop the read model, replay the topics in ``workers`` processes (partition p goes to worker
    p % workers), add their sums up, hand the consumer group over. Reports are incomplete until
    it returns."""
    until = ends(servers)
    started = time.perf_counter()
    _run(url, START)
    parts = [
        {tp: e for tp, e in until.items() if tp.partition % workers == k} for k in range(workers)
    ]
    context = multiprocessing.get_context("fork")
    counter = context.Value("q", 0)
    with context.Pool(workers, initializer=_share, initargs=(counter,)) as pool:
        pending = pool.starmap_async(rebuild_part, [(servers, url, part) for part in parts])
        with tqdm(
            total=sum(until.values()),
            unit="ev",
            unit_scale=True,
            disable=not progress,
            file=sys.stderr,
        ) as bar:
            while not pending.ready():
                pending.wait(0.2)
                bar.update(counter.value - bar.n)
        done = pending.get()
    merging = time.perf_counter()
    with ThreadPoolExecutor(len(INDEXES) + 1) as threads:
        list(threads.map(lambda batch: _run(url, batch), [MERGE, *INDEXES]))
    merged = time.perf_counter() - merging
    hand_over(servers, {tp: at for part in done for tp, at in part.reached.items()})
    return Outcome(
        sum(p.events for p in done),
        sum(p.skipped for p in done),
        sum(p.invoices for p in done),
        time.perf_counter() - started,
        done,
        merged,
    )


def main() -> int:
    servers = bootstrap.wiring.settings.kafka_bootstrap_servers
    if "--force" not in sys.argv and group_members(servers, GROUP):
        print(
            f"the consumer group {GROUP!r} has members: stop reporting-consumer first (a member "
            "left by a crashed consumer goes when its session expires; --force skips this check)"
        )
        return 2
    done = rebuild(servers, bootstrap.wiring.database_url)
    rate = done.events / done.seconds if done.seconds else 0.0
    print(
        f"rebuilt: {done.invoices:,} invoices from {done.events:,} events "
        f"({done.skipped:,} skipped as malformed) in {done.seconds:.1f} s — {rate:,.0f} events/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
