"""HTTP API of the payments service. Its own database is migrated and probed; its business
endpoints arrive with its issue (see docs/roadmap.md)."""

from services.payments import bootstrap
from shared.http import create_app

app = create_app(
    bootstrap.SERVICE, bootstrap.wiring.settings.internal_api_token, bootstrap.wiring.ready
)
