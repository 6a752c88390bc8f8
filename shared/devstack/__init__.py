"""The local platform: embedded PostgreSQL, the Tansu broker, migrations, topics, the process table,
the supervisor, demo data and the smoke check. Used by `make run`, `make smoke` and the tests."""
