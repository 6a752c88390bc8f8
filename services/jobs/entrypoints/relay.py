"""The jobs service's outbox relay process."""

from services.jobs.bootstrap import wiring

if __name__ == "__main__":
    wiring.run_relay(default_port=9101)
