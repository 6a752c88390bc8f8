"""Nothing twice, nothing lost at the providers: the notifications worker is killed (kill -9)
right after Twilio took the invoice's text and before it was marked sent — and, in a second
round, right after claiming a message and before calling the provider. Restarted, it asks the
provider what it has (Twilio's message list) and ends with exactly one SMS and one email."""

from __future__ import annotations

import time

import pytest

from tests.e2e.test_invoice_messages import captured
from tests.e2e.test_pay_link import sent_invoice
from tests.support.api import Api
from tests.support.platform import RunningPlatform, wait_for

pytestmark = pytest.mark.e2e
WORKER = "notifications-consumer"


def channels(link: str) -> list[str]:
    return sorted(str(m["channel"]) for m in captured(link))


@pytest.mark.parametrize(
    ("crash_at", "before_restart"),
    [("notifications.after_provider:1", ["sms"]), ("notifications.after_claim:1", [])],
)
def test_killed_mid_send_still_one_sms_and_one_email(
    platform: RunningPlatform, crash_at: str, before_restart: list[str]
) -> None:
    platform.restart(WORKER, {"CRASH_AT": crash_at})
    platform.wait_ready([WORKER])
    invoicing = Api(platform.url("invoicing-web"), "shop-kill-notify")
    invoice = sent_invoice(invoicing, customer={"phone": "+15595550148"})
    link = invoice["pay_url"]
    wait_for(lambda: platform.is_dead(WORKER), 30, "the worker to die mid-send")
    assert channels(link) == before_restart
    platform.restart(WORKER)
    platform.wait_ready([WORKER])
    wait_for(lambda: channels(link) == ["email", "sms"], 30, "the text and the email")
    time.sleep(3)  # past the reconcile grace (2 s here) and another pass of the sender
    assert channels(link) == ["email", "sms"]
