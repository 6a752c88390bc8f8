"""Re-drive dead letters after a fix: each record of ``<topic>.dlq`` goes back to the topic it
came from, with its own key, value and headers (the ``dlq_*`` ones dropped), so the consumer that
gave up on it tries it again; every other consumer has it in its inbox already and skips it.

    python -m shared.redrive <topic> [--consumer NAME] [--dry-run]

Each dead letter is re-driven once: the command reads with its own consumer group
(``redrive.<topic>[.<consumer>]``) and commits as it goes, up to where the dead-letter topic ended
when it started. ``--consumer`` re-drives only the letters that consumer dead-lettered. A letter
that fails again is dead-lettered again, with its new error."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from shared.kafka import make_producer
from shared.settings import load_settings


@dataclass(frozen=True)
class Redriven:
    read: int
    sent: int


def redrive(
    bootstrap: str, topic: str, consumer: str | None = None, dry_run: bool = False
) -> Redriven:
    group = f"redrive.{topic}" + (f".{consumer}" if consumer else "")
    reader = KafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = make_producer(bootstrap, client_id="fieldpay-redrive")
    try:
        return _redrive(reader, producer, f"{topic}.dlq", consumer, dry_run)
    finally:
        reader.close(autocommit=False)
        producer.close()


def _redrive(
    reader: KafkaConsumer,
    producer: KafkaProducer,
    dlq: str,
    consumer: str | None,
    dry_run: bool,
) -> Redriven:
    partitions = [TopicPartition(dlq, p) for p in sorted(reader.partitions_for_topic(dlq) or ())]
    reader.assign(partitions)
    ends = reader.end_offsets(partitions)
    read = sent = 0
    while any(reader.position(tp) < end for tp, end in ends.items()):
        for tp, records in reader.poll(timeout_ms=1000).items():
            for record in records:
                if record.offset >= ends[tp]:
                    continue
                read += 1
                headers = dict(record.headers or [])
                if consumer and headers.get("dlq_consumer", b"").decode() != consumer:
                    continue
                original = headers.get("dlq_original_topic", b"").decode() or dlq[: -len(".dlq")]
                if not dry_run:
                    kept = [(k, v) for k, v in record.headers or [] if not k.startswith("dlq_")]
                    producer.send(original, key=record.key, value=record.value, headers=kept)
                sent += 1
        producer.flush()
        if not dry_run:  # sent first, then remembered: a crash re-drives again (harmless)
            reader.commit({tp: OffsetAndMetadata(reader.position(tp), "", -1) for tp in ends})
    return Redriven(read, sent)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.redrive", description=__doc__)
    parser.add_argument("topic", help="the event topic (its dead letters are <topic>.dlq)")
    parser.add_argument("--consumer", help="only what this consumer group dead-lettered")
    parser.add_argument("--dry-run", action="store_true", help="count, send nothing")
    args = parser.parse_args(argv)
    done = redrive(load_settings().kafka_bootstrap_servers, args.topic, args.consumer, args.dry_run)
    verb = "would re-drive" if args.dry_run else "re-drove"
    print(f"{verb} {done.sent} of {done.read} dead letters of {args.topic}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
