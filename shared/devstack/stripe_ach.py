"""Development only: ACH Direct Debit and idempotency keys for a Stripe emulator that has neither.

localstripe has no ``us_bank_account`` payment method. This small server stands in front of it:
every request goes on to localstripe unchanged, except PaymentIntents and refunds for
``us_bank_account``, which it answers itself the way Stripe documents them — a confirmed ACH
PaymentIntent is ``processing``; ``payment_intent.processing`` is posted at once and, after
``clear_seconds``, ``payment_intent.succeeded`` or ``payment_intent.payment_failed`` — signed
like Stripe's webhooks. So the payments service's real Stripe adapter and webhook code run
unchanged against it. What is emulated: the bank (outcomes by Stripe's test account numbers),
the clearing delay and the webhooks' timing. What is real: every request the adapter sends and
every webhook it verifies. It also honours ``Idempotency-Key`` on every POST, as Stripe does and
localstripe does not: a retried request gets the first answer, so a payment retried after a crash
is not made twice.

Outcomes by account number (Stripe's test numbers, routing 110000000):
  000123456789 clears; 000111111113 fails (account closed); 000111111116 fails (no account);
  000222222227 fails (insufficient funds); 000999999991 clears, then is returned (emulator only,
  for an ACH return after success: as Stripe reports an unauthorized-debit return of a settled
  payment, a dispute — ``charge.dispute.created``, the dispute served at /v1/disputes/{id}).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

FAILURES = {
    "000111111113": "The customer's bank account has been closed.",
    "000111111116": "The customer's bank account could not be located.",
    "000222222227": "The customer's account has insufficient funds to cover this payment.",
}
RETURNED_AFTER_CLEARING = "000999999991"
HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "host", "content-encoding"}


class AchEmulator:
    def __init__(self, localstripe: str, clear_seconds: float = 3.0) -> None:
        self.localstripe = localstripe.rstrip("/")
        self.clear_seconds = clear_seconds
        self.intents: dict[str, dict[str, Any]] = {}
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.disputes: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.key_locks: dict[str, threading.Lock] = {}
        self.answers: dict[str, tuple[int, bytes, dict[str, str]]] = {}

    # --- WSGI ----------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        response = self.route(request)
        return response(environ, start_response)

    def route(self, request: Request) -> Response:
        form = _flat(request)
        path = request.path
        if path.startswith("/_config/webhooks/") and request.method == "POST":
            self.webhooks[path.rsplit("/", 1)[1]] = request.get_json(silent=True) or form
        elif path == "/_config/intents" and request.method == "GET":  # what the bank was asked
            with self.lock:
                body = [_public(intent) for intent in self.intents.values()]
            return Response(json.dumps(body), mimetype="application/json")
        elif path == "/v1/payment_intents" and request.method == "POST":
            if form.get("payment_method_types[0]") == "us_bank_account":
                return _json(self.create_intent(form, request.headers.get("Idempotency-Key")))
        elif path.startswith("/v1/payment_intents/") and path.split("/")[3] in self.intents:
            return _json(_public(self.intents[path.split("/")[3]]))
        elif path.startswith("/v1/disputes/") and path.split("/")[3] in self.disputes:
            return _json(self.disputes[path.split("/")[3]])
        elif path == "/v1/refunds" and form.get("payment_intent", "") in self.intents:
            return _json(self.refund(form))
        return self.forward(request)

    def forward(self, request: Request) -> Response:
        key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
        if key is None:
            return self._forward(request)
        with self.lock:
            lock = self.key_locks.setdefault(key, threading.Lock())
        with lock:
            if key in self.answers:
                status, body, headers = self.answers[key]
                return Response(body, status, headers={**headers, "Idempotent-Replayed": "true"})
            response = self._forward(request)
            if response.status_code < 500:
                self.answers[key] = (
                    response.status_code,
                    response.get_data(),
                    dict(response.headers),
                )
            return response

    def _forward(self, request: Request) -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        upstream = requests.request(
            request.method,
            self.localstripe + request.full_path.rstrip("?"),
            data=request.get_data(),
            headers=headers,
            timeout=30,
        )
        kept = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
        return Response(upstream.content, upstream.status_code, headers=kept)

    # --- ACH ------------------------------------------------------------------------------------

    def create_intent(self, form: dict[str, str], key: str | None) -> dict[str, Any]:
        with self.lock:
            if key and (known := self._by_key(key)):
                return known
            intent_id = "pi_ach_" + secrets.token_hex(8)
            account = form.get("payment_method_data[us_bank_account][account_number]", "")
            confirmed = form.get("confirm") == "true" and bool(account)
            intent = {
                "id": intent_id,
                "object": "payment_intent",
                "amount": int(form["amount"]),
                "amount_received": 0,
                "currency": form.get("currency", "usd"),
                "customer": form.get("customer"),
                "metadata": _prefixed(form, "metadata"),
                "payment_method_types": ["us_bank_account"],
                "status": "processing" if confirmed else "requires_payment_method",
                "client_secret": f"{intent_id}_secret_{secrets.token_hex(8)}",
                "last_payment_error": None,
                "created": int(time.time()),
                "_key": key,
            }
            self.intents[intent_id] = intent
        if confirmed:
            threading.Thread(target=self._clear, args=(intent_id, account), daemon=True).start()
        return _public(intent)

    def _by_key(self, key: str) -> dict[str, Any] | None:
        found = next((i for i in self.intents.values() if i.get("_key") == key), None)
        return _public(found) if found else None

    def _clear(self, intent_id: str, account: str) -> None:
        """What the bank does over days, in seconds: processing, then cleared or failed."""
        self._post("payment_intent.processing", intent_id)
        time.sleep(self.clear_seconds)
        failure = FAILURES.get(account)
        intent = self.intents[intent_id]
        if failure:
            intent["status"] = "requires_payment_method"
            intent["last_payment_error"] = {"code": "payment_method_failed", "message": failure}
            self._post("payment_intent.payment_failed", intent_id)
            return
        intent["status"], intent["amount_received"] = "succeeded", intent["amount"]
        self._post("payment_intent.succeeded", intent_id)
        if account == RETURNED_AFTER_CLEARING:
            time.sleep(self.clear_seconds)
            dispute = {
                "id": "dp_ach_" + secrets.token_hex(8),
                "object": "dispute",
                "amount": intent["amount"],
                "currency": intent["currency"],
                "payment_intent": intent_id,
                "reason": "debit_not_authorized",
                "status": "lost",
            }
            self.disputes[dispute["id"]] = dispute
            self._post("charge.dispute.created", intent_id, dispute)

    def refund(self, form: dict[str, str]) -> dict[str, Any]:
        return {
            "id": "re_ach_" + secrets.token_hex(8),
            "object": "refund",
            "amount": int(form.get("amount", 0)),
            "payment_intent": form["payment_intent"],
            "status": "pending",
        }

    def _post(self, event_type: str, intent_id: str, about: dict[str, Any] | None = None) -> None:
        created = int(time.time())
        event = {
            "id": "evt_ach_" + secrets.token_hex(10),
            "object": "event",
            "type": event_type,
            "created": created,
            "data": {"object": about or _public(self.intents[intent_id])},
        }
        payload = json.dumps(event).encode()
        for hook in list(self.webhooks.values()):
            secret = str(hook.get("secret", ""))
            signed = hmac.new(secret.encode(), f"{created}.".encode() + payload, hashlib.sha256)
            headers = {
                "Content-Type": "application/json",
                "Stripe-Signature": f"t={created},v1={signed.hexdigest()}",
            }
            # Like Stripe's, a webhook that cannot be delivered is not the bank's problem.
            with contextlib.suppress(requests.RequestException):
                requests.post(str(hook["url"]), data=payload, headers=headers, timeout=10)


def _flat(request: Request) -> dict[str, str]:
    body = request.get_data(as_text=True)
    return dict(parse_qsl(body, keep_blank_values=True)) if body and "=" in body else {}


def _prefixed(form: dict[str, str], name: str) -> dict[str, str]:
    start = f"{name}["
    return {k[len(start) : -1]: v for k, v in form.items() if k.startswith(start)}


def _public(intent: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in intent.items() if not k.startswith("_")}


def _json(body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), 200, mimetype="application/json")


def serve(port: int, localstripe: str, clear_seconds: float) -> None:
    """Run until killed (`python -m shared.devstack.stripe_ach PORT LOCALSTRIPE SECONDS`)."""
    app = AchEmulator(localstripe, clear_seconds)
    make_server("127.0.0.1", port, app, threaded=True).serve_forever()


if __name__ == "__main__":
    import sys

    serve(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]))
