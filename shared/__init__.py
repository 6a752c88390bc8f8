"""The project's backbone: event contracts, envelope, event store/outbox, inbox, consumer loop,
relay, settings, logging, metrics and the HTTP scaffolding every service shares.

Nothing in here knows any one service's business rules."""
