"""Settings read from the environment (pydantic-settings), shared by every service process."""

from __future__ import annotations

import os

from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICES = ("jobs", "invoicing", "notifications", "payments", "reporting", "gateway")


class Settings(BaseSettings):
    """Process-wide configuration. Every field maps to an upper-case environment variable."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    database_prefix: str = ""
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    topic_replication_factor: int = 1
    internal_api_token: str = "dev-internal-token"
    pay_base_url: str = "http://127.0.0.1:8004"
    """Where customers open pay links (payments' public address); links are <this>/p/<token>."""
    pay_page_secret: str = "dev-pay-page-secret"
    """Keys the pay page's CSRF tokens (set a long random value in production)."""
    stripe_api_key: str = "sk_test_fieldpay_local"
    stripe_publishable_key: str = "pk_test_fieldpay_local"
    stripe_webhook_secret: str = "whsec_fieldpay_local"
    stripe_api_base: str = ""
    """Empty: Stripe itself. `make run` and the tests point it at localstripe."""
    stripe_js_url: str = "https://js.stripe.com/v3/"
    twilio_account_sid: str = "ACfieldpaylocal"
    twilio_auth_token: str = "local-token"
    twilio_from: str = "+15005550006"
    twilio_api_base: str = ""
    """Empty: Twilio itself. `make run` and the tests point it at the local capture server."""
    sendgrid_api_key: str = "SG.local"
    sendgrid_from: str = "invoices@fieldpay.example"
    sendgrid_api_base: str = ""
    """Empty: SendGrid itself. `make run` and the tests point it at the local capture server."""
    sendgrid_webhook_public_key: str = ""
    """SendGrid's Signed Event Webhook verification key (base64); empty: event webhooks refused."""
    notifications_public_url: str = "http://127.0.0.1:8003"
    """Where Twilio and SendGrid reach notifications' webhooks (status, replies, events)."""
    reminder_tick_seconds: float = 60.0
    """How often the reminder scheduler looks for due steps."""
    message_reconcile_seconds: float = 120.0
    """A message still being sent after this long is asked of the provider (its sender died)."""
    payment_check_seconds: float = 900.0
    """A charge Stripe has not settled this long after it was made is asked of Stripe (its webhook
    may have been lost), and again every this many seconds until it settles."""
    gateway_secret_key: str = "dev-gateway-secret-change-me"
    """Signs the staff app's session cookies and CSRF tokens (set a long random value)."""
    session_cookie_secure: bool = False
    """True behind HTTPS (production): the session cookie is never sent over plain HTTP."""
    invoicing_url: str = "http://127.0.0.1:8002"
    """Where the staff app reaches the invoicing service's internal API."""
    notifications_url: str = "http://127.0.0.1:8003"
    reporting_url: str = "http://127.0.0.1:8005"
    jobs_url: str = "http://127.0.0.1:8001"
    payments_url: str = "http://127.0.0.1:8004"
    trusted_proxies: int = 0
    """Proxies in front of the public pages (1 behind an ingress): whose X-Forwarded-For counts
    for the rate limits of sign-in and the pay page."""
    dev_inbox_url: str = ""
    """Development only: the local capture server's inbox, linked from the staff app's menu."""
    log_level: str = "INFO"
    relay_batch_size: int = 1000
    consumer_batch_size: int = 1000
    consumer_max_attempts: int = 5
    consumer_session_timeout_ms: int = 6000
    consumer_heartbeat_interval_ms: int = 2000
    crash_at: str = ""
    """Fault injection for kill -9 tests: ``point:probability`` (e.g. ``relay.after_send:0.05``)."""

    def database_url_for(self, service: str) -> str:
        """The service's own database: ``<SERVICE>_DATABASE_URL`` if set, else DATABASE_URL's
        server with the database named after the service (plus DATABASE_PREFIX)."""
        explicit = os.environ.get(f"{service.upper()}_DATABASE_URL")
        if explicit:
            return explicit
        return make_conninfo(self.database_url, dbname=f"{self.database_prefix}{service}")

    def admin_database_url(self) -> str:
        """The server's maintenance database, used to create service databases."""
        params = conninfo_to_dict(self.database_url)
        return make_conninfo(self.database_url, dbname=str(params.get("dbname") or "postgres"))


def load_settings() -> Settings:
    return Settings()
