import time
import pytest
from kafka import KafkaConsumer, TopicPartition
from shared.kafka import make_consumer, make_producer

pytestmark = pytest.mark.integration

def test_probe(settings):
    t = time.monotonic()
    p = make_producer(settings.kafka_bootstrap_servers)
    p.send("JobClosed", key=b"k", value=b"v", headers=[("a", b"b")]).get(10)
    print("produce", time.monotonic() - t)
    t = time.monotonic()
    c = KafkaConsumer(bootstrap_servers=[settings.kafka_bootstrap_servers], group_id=None,
                      enable_auto_commit=False, auto_offset_reset="earliest")
    parts = c.partitions_for_topic("JobClosed")
    print("parts", parts)
    c.assign([TopicPartition("JobClosed", n) for n in parts])
    got = []
    while not got and time.monotonic() - t < 10:
        for recs in c.poll(200).values():
            got += recs
    print("assign read", time.monotonic() - t, got)
    t = time.monotonic()
    g = make_consumer(settings.kafka_bootstrap_servers, "g1", ["JobClosed"], session_timeout_ms=6000, heartbeat_interval_ms=1000)
    got = []
    while not got and time.monotonic() - t < 20:
        for recs in g.poll(200).values():
            got += recs
    print("group read", time.monotonic() - t, len(got))
    tp = TopicPartition(got[0].topic, got[0].partition)
    print("committed", g.committed(tp))
    c.close(); g.close(); p.close()
