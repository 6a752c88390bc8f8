"""The invoicing service's outbox relay process."""

from services.invoicing.bootstrap import wiring

if __name__ == "__main__":
    wiring.run_relay(default_port=9104)
