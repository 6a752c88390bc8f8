"""A Stripe that does not answer: the official client gives up after our read timeout (not the
library's 80 s) and sends the call again with the same idempotency key, so Stripe would act on
it once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe

from services.payments.adapters import stripe_gateway
from services.payments.adapters.stripe_gateway import StripeGateway


class Silent(BaseHTTPRequestHandler):
    """Reads the request, notes its idempotency key, never answers in time."""

    keys: list[str | None] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Silent.keys.append(self.headers.get("Idempotency-Key"))
        time.sleep(15)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def silent_stripe() -> Iterator[str]:
    Silent.keys = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Silent)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_refund_stripe_does_not_answer_is_tried_three_times_with_one_key(
    silent_stripe: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stripe_gateway, "STRIPE_TIMEOUT", (1.0, 0.5))
    gateway = StripeGateway("sk_test_silent", "whsec_silent", api_base=silent_stripe)
    started = time.monotonic()
    with pytest.raises(stripe.APIConnectionError):
        gateway.refund("pi_silent", 1_000, "refund:charge-1:1")
    assert time.monotonic() - started < 10
    assert Silent.keys == ["refund:charge-1:1"] * (1 + stripe_gateway.STRIPE_RETRIES)
    assert stripe_gateway.STRIPE_RETRIES >= 1
