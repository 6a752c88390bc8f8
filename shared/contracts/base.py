"""The base class of every event contract: a frozen pydantic model with an explicit schema
version."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class Contract(BaseModel):
    """A value object inside an event (addresses, lines, snapshots)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Event(Contract):
    """A fact in the past tense, published on the topic named after its class.

    ``schema_version`` is part of the value so a consumer can refuse a version it does not know.
    ``subject`` names the aggregate the event is about; it becomes the Kafka key."""

    topic: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int] = 1

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls.topic = cls.__name__

    @property
    def subject(self) -> str:
        raise NotImplementedError
