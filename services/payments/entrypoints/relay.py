"""The payments service's outbox relay process."""

from services.payments.bootstrap import wiring

if __name__ == "__main__":
    wiring.run_relay(default_port=9106)
