"""Rebuild the AR aging read model from the topics (they keep their whole history).

    python -m services.reporting.entrypoints.rebuild [--force]

Stop the reporting consumer first (Kubernetes: scale `reporting-consumer` to 0); the command
refuses while its group has members. It reads where each partition ends now, drops the read model
(bucket settings stay), and replays every fact from the beginning to those ends in worker
processes (partition p to worker p % workers: events are keyed by invoice, so each worker holds
whole invoices), folding each invoice in memory with the same code the consumer runs and writing
with COPY; then it adds the workers' sums up and sets the consumer group's offsets to where the
replay stopped, so the consumer, started again, goes on from there. Reports are incomplete while
it runs. A progress bar runs while it reads; the final line gives the rate."""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
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
            envelope = decode(headers, value)
            event = envelope.event
            shop = getattr(event, "shop_id", "")
            if shop != envelope.tenant:
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


def replay(
    servers: str, until: dict[TopicPartition, int], read: Callable[[int], None] = lambda n: None
) -> Replay:
    """Every record from the beginning until each partition's position has reached where it
    ended when the rebuild started (whole batches: a broker whose end offset lags the last
    batch — Tansu reports that batch's first offset — loses nothing). ``state.reached`` is
    where each partition was left, for the hand-over."""
    state = Replay()
    consumer = KafkaConsumer(
        bootstrap_servers=servers.split(","),
        enable_auto_commit=False,
        max_poll_records=5000,
        fetch_max_wait_ms=20,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    consumer.assign(list(until))
    consumer.seek_to_beginning(*until)
    left = {tp for tp, end in until.items() if end > 0}
    try:
        while left:
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    state.apply(record.headers, record.value)
                read(len(records))
            left = {tp for tp in left if consumer.position(tp) < until[tp]}
        state.reached = {tp: consumer.position(tp) for tp in until}
    finally:
        consumer.close()
    return state


def write_part(conn: psycopg.Connection, state: Replay) -> None:
    """This worker's invoices and contributions (its partitions hold whole invoices: events are
    keyed by invoice), and its partial sums and customer names for the merge."""
    changes: dict[tuple[str, date, date], list[int]] = defaultdict(lambda: [0, 0])
    due: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0])
    customer_due: dict[tuple[str, str, date], list[int]] = defaultdict(lambda: [0, 0])
    names: dict[tuple[str, str], tuple[str, str]] = {}
    invoices: list[tuple[object, ...]] = []
    rows: list[tuple[object, ...]] = []
    for f in state.invoices.values():
        shop = f.shop_id
        invoices.append((f.invoice_id, shop, f.number, f.customer_id, _json(to_record(f))))
        if f.sent_at is not None:
            names[(shop, f.customer_id)] = (f.customer_name, f.zone)
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
]
MERGE = [
    "INSERT INTO ar_changes SELECT shop_id, due_date, day, sum(cents), sum(count)"
    " FROM ar_rebuild_sums WHERE kind = 0 GROUP BY shop_id, due_date, day",
    "INSERT INTO ar_due SELECT shop_id, due_date, sum(cents), sum(count)"
    " FROM ar_rebuild_sums WHERE kind = 1 GROUP BY shop_id, due_date",
    "INSERT INTO ar_customer_due SELECT shop_id, customer_id, due_date, sum(cents), sum(count)"
    " FROM ar_rebuild_sums WHERE kind = 2 GROUP BY shop_id, customer_id, due_date",
    "INSERT INTO ar_customers SELECT DISTINCT ON (shop_id, customer_id) shop_id, customer_id,"
    " name FROM ar_rebuild_names ORDER BY shop_id, customer_id",
    "INSERT INTO ar_shops (shop_id, time_zone) SELECT DISTINCT ON (shop_id) shop_id, time_zone"
    " FROM ar_rebuild_names ORDER BY shop_id ON CONFLICT (shop_id) DO UPDATE"
    " SET time_zone = excluded.time_zone",
    "TRUNCATE ar_rebuild_sums, ar_rebuild_names",
]


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

    state = replay(servers, until, read)
    with psycopg.connect(url) as conn:
        write_part(conn, state)
    return Part(state.events, state.skipped, len(state.invoices), state.reached)


@dataclass(frozen=True)
class Outcome:
    events: int
    skipped: int
    invoices: int
    seconds: float


def rebuild(servers: str, url: str, progress: bool = True, workers: int = WORKERS) -> Outcome:
    """Drop the read model, replay the topics in ``workers`` processes (partition p goes to worker
    p % workers), add their sums up, hand the consumer group over. Reports are incomplete until
    it returns."""
    until = ends(servers)
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        for statement in START:
            conn.execute(statement)
    parts = [
        {tp: e for tp, e in until.items() if tp.partition % workers == k} for k in range(workers)
    ]
    context = multiprocessing.get_context("spawn")
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
    with psycopg.connect(url) as conn:
        for statement in MERGE:
            conn.execute(statement)
    hand_over(servers, {tp: at for part in done for tp, at in part.reached.items()})
    return Outcome(
        sum(p.events for p in done),
        sum(p.skipped for p in done),
        sum(p.invoices for p in done),
        time.perf_counter() - started,
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
