"""The notifications service's outbox relay process (ReminderSent, MessageDelivered, …)."""

from services.notifications.bootstrap import wiring

if __name__ == "__main__":
    wiring.run_relay(default_port=9109)
