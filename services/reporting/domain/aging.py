"""AR aging: what is owed, by how long past due, on a given day — in total and per customer.
Standard library only."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

DEFAULT_EDGES = (30, 60, 90)
MAX_EDGE = 3650
"""Current, 1–30, 31–60, 61–90, 91+ days past due."""


class BadBuckets(ValueError):
    """Bucket edges must be increasing whole days (at most 8 buckets)."""


@dataclass(frozen=True)
class Buckets:
    edges: tuple[int, ...] = DEFAULT_EDGES

    def __post_init__(self) -> None:
        if not 1 <= len(self.edges) <= 7:
            raise BadBuckets("give between 1 and 7 edges, e.g. 30,60,90")
        if any(not 0 < e <= MAX_EDGE for e in self.edges) or list(self.edges) != sorted(
            set(self.edges)
        ):
            raise BadBuckets(f"edges are increasing whole days from 1 to {MAX_EDGE}, e.g. 30,60,90")

    @property
    def labels(self) -> list[str]:
        lows = [1, *(e + 1 for e in self.edges)]
        middle = [f"{lo}–{hi}" for lo, hi in zip(lows, self.edges, strict=False)]
        return ["Current", *middle, f"{lows[-1]}+"]

    def ranges(self) -> list[tuple[int | None, int | None]]:
        """(fewest, most) days past due of each bucket; None: open-ended."""
        lows = [1, *(e + 1 for e in self.edges)]
        return [(None, 0), *zip(lows, self.edges, strict=False), (lows[-1], None)]

    def index(self, days_past_due: int) -> int:
        if days_past_due <= 0:
            return 0
        return 1 + sum(1 for e in self.edges if days_past_due > e)

    def due_dates(self, bucket: int, as_of: date) -> tuple[date | None, date | None]:
        """The due dates whose invoices fall in that bucket on ``as_of`` (earliest, latest)."""
        fewest, most = self.ranges()[bucket]
        earliest = as_of - timedelta(days=most) if most is not None else None
        latest = as_of - timedelta(days=fewest) if fewest is not None else None
        return earliest, latest


@dataclass
class Line:
    """One row of the report: a bucket's money and count of open invoices per bucket."""

    cents: list[int]
    counts: list[int]

    @property
    def total_cents(self) -> int:
        return sum(self.cents)

    @property
    def total_count(self) -> int:
        return sum(self.counts)


@dataclass
class Report:
    as_of: date
    buckets: Buckets
    total: Line
    customers: dict[str, Line] = field(default_factory=dict)


def empty(buckets: Buckets) -> Line:
    n = len(buckets.labels)
    return Line([0] * n, [0] * n)


def aging(
    rows: Iterable[tuple[str, date, int, int]], as_of: date, buckets: Buckets, by_customer: bool
) -> Report:
    """``rows``: (customer, due date, cents, open invoices) owed on ``as_of``."""
    report = Report(as_of, buckets, empty(buckets))
    for customer, due, cents, count in rows:
        if cents == 0 and count == 0:
            continue
        i = buckets.index((as_of - due).days)
        report.total.cents[i] += cents
        report.total.counts[i] += count
        if by_customer:
            line = report.customers.setdefault(customer, empty(buckets))
            line.cents[i] += cents
            line.counts[i] += count
    return report


def from_buckets(rows: Iterable[tuple[int, int, int]], as_of: date, buckets: Buckets) -> Report:
    """``rows``: (bucket, cents, open invoices), already summed per bucket (by the database)."""
    report = Report(as_of, buckets, empty(buckets))
    for i, cents, count in rows:
        report.total.cents[i] += cents
        report.total.counts[i] += count
    return report
