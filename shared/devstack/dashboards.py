"""The Grafana dashboards, written as JSON into deploy/grafana/dashboards/ (`make dashboards`):
platform health, the invoice funnel, AR and cash. Every panel is a PromQL query over the metrics
the services export; a test asks a real Prometheus each query after driving the whole flow.

    python -m shared.devstack.dashboards [--check]"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.devstack.infra import ROOT

OUT = ROOT / "deploy" / "grafana" / "dashboards"


@dataclass(frozen=True)
class Panel:
    title: str
    expr: str
    legend: str = ""
    unit: str = "short"
    kind: str = "timeseries"


def ratio_of_errors(by: str) -> str:
    """5xx share of requests; 0 (not "no data") while a service has served no 5xx."""
    all_ = f"sum by ({by}) (rate(http_requests_total[5m]))"
    errors = f'sum by ({by}) (rate(http_requests_total{{status=~"5.."}}[5m]))'
    return f"({errors} or {all_} * 0) / {all_}"


FUNNEL = "InvoiceDrafted|InvoiceSent|InvoiceViewed|PaymentReceived"
DASHBOARDS: dict[str, tuple[str, list[Panel]]] = {
    "platform-health": (
        "FieldPay · platform health",
        [
            Panel("Requests per second", "sum by (service) (rate(http_requests_total[5m]))",
                  "{{service}}", "reqps"),
            Panel("5xx ratio", ratio_of_errors("service"), "{{service}}", "percentunit"),
            Panel("p95 latency",
                  "histogram_quantile(0.95, sum by (service, le) "
                  "(rate(http_request_seconds_bucket[5m])))", "{{service}}", "s"),
            Panel("Consumer lag by group", "sum by (consumer) (consumer_lag)", "{{consumer}}"),
            Panel("Consumer lag by partition", "max by (consumer, topic, partition) (consumer_lag)",
                  "{{consumer}} {{topic}}/{{partition}}"),
            Panel("Oldest unpublished outbox event", "max by (service) (outbox_oldest_age_seconds)",
                  "{{service}}", "s"),
            Panel("Outbox backlog", "sum by (service) (outbox_backlog)", "{{service}}"),
            Panel("Dead letters (5 min)",
                  "sum by (consumer, topic) (increase(events_dead_lettered_total[5m]))",
                  "{{consumer}} {{topic}}"),
            Panel("Handler failures per second",
                  "sum by (consumer) (rate(events_failed_total[5m]))", "{{consumer}}"),
            Panel("Events published per second",
                  "sum by (topic) (rate(events_published_total[5m]))", "{{topic}}"),
            Panel("Events consumed per second",
                  "sum by (consumer) (rate(events_consumed_total[5m]))", "{{consumer}}"),
            Panel("Provider calls by outcome",
                  "sum by (provider, outcome) (rate(provider_calls_total[5m]))",
                  "{{provider}} {{outcome}}", "reqps"),
            Panel("Provider p95 latency",
                  "histogram_quantile(0.95, sum by (provider, le) "
                  "(rate(provider_call_seconds_bucket[5m])))", "{{provider}}", "s"),
            Panel("Webhook verification failures (1 h)",
                  "sum by (provider) (increase(webhook_verification_failures_total[1h]))",
                  "{{provider}}"),
            Panel("Reminder scheduler: since last pass",
                  "time() - max(reminder_scheduler_last_tick_timestamp_seconds)", "", "s", "stat"),
            Panel("Processes up", "sum by (job) (up)", "{{job}}"),
        ],
    ),
    "invoice-funnel": (
        "FieldPay · invoice funnel",
        [
            Panel("Drafted → sent → viewed → paid (per hour)",
                  f'sum by (topic) (increase(events_published_total{{topic=~"{FUNNEL}"}}[1h]))',
                  "{{topic}}"),
            Panel("Invoices by status", "sum by (status) (invoices)", "{{status}}"),
            Panel("Time from send to paid (median)",
                  "histogram_quantile(0.5, sum by (le) "
                  "(rate(invoice_send_to_paid_seconds_bucket[1d])))", "median", "s", "stat"),
            Panel("Time from send to paid (90th percentile)",
                  "histogram_quantile(0.9, sum by (le) "
                  "(rate(invoice_send_to_paid_seconds_bucket[1d])))", "p90", "s", "stat"),
            Panel("Invoices paid in full (1 d)",
                  "sum(increase(invoice_send_to_paid_seconds_count[1d]))", "paid", "short", "stat"),
            Panel("Reminders queued (per hour)", "sum(increase(reminders_queued_total[1h]))",
                  "reminders"),
            Panel("Texts and emails delivered or failed (per hour)",
                  'sum by (topic) (increase(events_published_total'
                  '{topic=~"MessageDelivered|MessageFailed|ReminderSent"}[1h]))', "{{topic}}"),
        ],
    ),
    "ar-and-cash": (
        "FieldPay · AR and cash",
        [
            Panel("Owed now by days past due", "sum by (bucket) (ar_outstanding_cents) / 100",
                  "{{bucket}}", "currencyUSD"),
            Panel("Owed now", "sum(ar_outstanding_cents) / 100", "owed", "currencyUSD", "stat"),
            Panel("Invoices owing by days past due", "sum by (bucket) (ar_outstanding_invoices)",
                  "{{bucket}}"),
            Panel("Collected by method", "sum by (method) (payments_collected_cents) / 100",
                  "{{method}}", "currencyUSD"),
            Panel("Collected in the last day", "sum(delta(payments_collected_cents[1d])) / 100",
                  "collected", "currencyUSD", "stat"),
            Panel("Refunded", "sum(refunds_issued_cents) / 100", "refunded", "currencyUSD"),
            Panel("Invoice value by status", "sum by (status) (invoices_total_cents) / 100",
                  "{{status}}", "currencyUSD"),
        ],
    ),
}  # fmt: skip


def dashboard(uid: str, title: str, panels: list[Panel]) -> dict[str, Any]:
    return {
        "uid": f"fieldpay-{uid}",
        "title": title,
        "tags": ["fieldpay"],
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "type": "datasource",
                    "query": "prometheus",
                    "label": "Prometheus",
                }
            ]
        },
        "panels": [_panel(n, p) for n, p in enumerate(panels)],
    }


def _panel(n: int, panel: Panel) -> dict[str, Any]:
    return {
        "id": n + 1,
        "type": panel.kind,
        "title": panel.title,
        "gridPos": {"h": 8, "w": 12, "x": 12 * (n % 2), "y": 8 * (n // 2)},
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "targets": [
            {
                "refId": "A",
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "expr": panel.expr,
                "legendFormat": panel.legend or "__auto",
            }
        ],
    }


def rendered() -> dict[Path, str]:
    return {
        OUT / f"{uid}.json": json.dumps(dashboard(uid, title, panels), indent=2) + "\n"
        for uid, (title, panels) in DASHBOARDS.items()
    }


def queries(folder: Path = OUT) -> list[tuple[str, str, str]]:
    """(dashboard, panel, expr) of every panel target in the shipped JSON files."""
    found = []
    for path in sorted(folder.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel["targets"]:
                found.append((board["title"], panel["title"], target["expr"]))
    return found


def main() -> int:
    files = rendered()
    if "--check" in sys.argv:
        stale = [p.name for p, text in files.items() if not p.exists() or p.read_text() != text]
        if stale:
            print(f"out of date (run `make dashboards`): {', '.join(stale)}")
        return 1 if stale else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text)
    print(f"wrote {len(files)} dashboards to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
