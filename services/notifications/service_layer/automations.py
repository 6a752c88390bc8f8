"""Settings → Automations as the staff app reads and writes it (and as it is stored): one policy
per customer type, quiet hours. Validated here so a bad template never reaches a customer."""

from __future__ import annotations

from datetime import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.notifications.domain.reminders import (
    CUSTOMER_TYPES,
    MAX_MESSAGE,
    Automations,
    BadTemplate,
    Policy,
    Step,
    check_template,
)

HOUR = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class StepForm(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    days: int = Field(ge=-30, le=180, description="From the due date: -3 before, 0 on the day.")
    channels: list[Literal["sms", "email"]] = Field(min_length=1, max_length=2)
    message: str = Field(min_length=1, max_length=MAX_MESSAGE)

    @field_validator("message")
    @classmethod
    def _template(cls, message: str) -> str:
        try:
            check_template(message)
        except BadTemplate as exc:
            raise ValueError(str(exc)) from exc
        return message


class PolicyForm(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    enabled: bool = True
    steps: list[StepForm] = Field(max_length=12)

    @model_validator(mode="after")
    def _one_step_per_day(self) -> PolicyForm:
        days = [s.days for s in self.steps]
        if len(days) != len(set(days)):
            raise ValueError("two steps on the same day: each step needs its own day")
        return self


class AutomationsForm(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    policies: dict[Literal["residential", "commercial", "property_manager"], PolicyForm]
    quiet_hours_start: str = Field(default="20:00", pattern=HOUR)
    quiet_hours_end: str = Field(default="08:00", pattern=HOUR)

    @model_validator(mode="after")
    def _every_customer_type(self) -> AutomationsForm:
        missing = [t for t in CUSTOMER_TYPES if t not in self.policies]
        if missing:
            raise ValueError(f"a policy for each customer type; missing {', '.join(missing)}")
        return self

    def to_domain(self) -> Automations:
        policies: dict[str, Policy] = {
            kind: Policy(
                p.enabled,
                tuple(
                    Step(s.days, tuple(dict.fromkeys(s.channels)), s.message)
                    for s in sorted(p.steps, key=lambda s: s.days)
                ),
            )
            for kind, p in self.policies.items()
        }
        return Automations(
            policies,
            time.fromisoformat(self.quiet_hours_start),
            time.fromisoformat(self.quiet_hours_end),
        )

    @classmethod
    def of(cls, automations: Automations) -> AutomationsForm:
        return cls.model_validate(
            {
                "policies": {
                    kind: {
                        "enabled": p.enabled,
                        "steps": [
                            {"days": s.days, "channels": list(s.channels), "message": s.message}
                            for s in p.steps
                        ],
                    }
                    for kind, p in automations.policies.items()
                },
                "quiet_hours_start": automations.quiet_start.strftime("%H:%M"),
                "quiet_hours_end": automations.quiet_end.strftime("%H:%M"),
            }
        )
