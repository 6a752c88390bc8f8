"""Generate the machine-readable contracts from the models: one JSON Schema per event and an
AsyncAPI 3.0 document for the topics. `make contracts` writes them; a test fails on drift."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.contracts import ALL_EVENTS, Event

OUT = Path(__file__).resolve().parents[2] / "contracts"
HEADERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents Kafka protocol binding (binary mode) headers plus extensions.",
    "required": [
        "ce_specversion",
        "ce_id",
        "ce_type",
        "ce_source",
        "ce_time",
        "ce_subject",
        "ce_tenant",
        "ce_correlationid",
    ],
    "properties": {
        "ce_specversion": {"const": "1.0"},
        "ce_id": {
            "type": "string",
            "description": "Unique event id (UUID); consumers dedupe on it.",
        },
        "ce_type": {"type": "string", "description": "The event class, e.g. JobClosed."},
        "ce_source": {
            "type": "string",
            "description": "The emitting service, e.g. /services/jobs.",
        },
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string", "description": "The aggregate id; also the Kafka key."},
        "content-type": {"const": "application/json"},
        "ce_tenant": {"type": "string", "description": "The shop the event belongs to."},
        "ce_correlationid": {"type": "string"},
        "ce_causationid": {"type": "string", "description": "ce_id of the event that caused it."},
    },
}


def schema_name(cls: type[Event]) -> str:
    return f"{cls.__name__}.v{cls.SCHEMA_VERSION}.json"


def event_schema(cls: type[Event]) -> dict[str, Any]:
    schema = cls.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"urn:fieldpay:event:{cls.__name__}:v{cls.SCHEMA_VERSION}"
    return schema


def asyncapi() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for cls in ALL_EVENTS:
        name = cls.__name__
        messages[name] = {
            "name": name,
            "title": name,
            "summary": (cls.__doc__ or "").strip().splitlines()[0],
            "contentType": "application/json",
            "headers": HEADERS_SCHEMA,
            "payload": {"$ref": f"./schemas/{schema_name(cls)}"},
            "bindings": {"kafka": {"key": {"type": "string", "description": "aggregate id"}}},
        }
        channels[cls.topic] = {
            "address": cls.topic,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operations[f"publish{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{cls.topic}"},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "FieldPay events",
            "version": "1.0.0",
            "description": "Topics between FieldPay services. Dead letters: <topic>.dlq.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def rendered() -> dict[str, str]:
    """Every generated file, path relative to contracts/ → text."""
    files = {f"schemas/{schema_name(cls)}": _dump(event_schema(cls)) for cls in ALL_EVENTS}
    files["asyncapi.json"] = _dump(asyncapi())
    return files


def write(out: Path = OUT) -> list[Path]:
    written = []
    for rel, text in rendered().items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def _dump(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    for path in write():
        print(path.relative_to(OUT.parent))
