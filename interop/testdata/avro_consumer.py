"""Consume a lane's results with confluent_kafka.avro's AvroConsumer.

Usage: avro_consumer.py BROKER REGISTRY_URL TOPIC GROUP N

Reads N records from the start of TOPIC; AvroConsumer fetches each writer
schema from the registry by the id in the record's wire header and decodes
the value with Apache Avro. Prints, per record, where it was and the
decoded fields as JSON.
"""

import json
import sys
import time

from confluent_kafka.avro import AvroConsumer

from typed import typed


def main():
    broker, registry, topic, group, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    consumer = AvroConsumer({
        "bootstrap.servers": broker,
        "group.id": group,
        "schema.registry.url": registry,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    # Record keys are the glyph id as plain UTF-8 (the pipeline's
    # StringSerializer convention), not Avro: AvroConsumer would try to
    # decode them through the registry too, so keys pass through as bytes.
    decode = consumer._serializer.decode_message
    consumer._serializer.decode_message = lambda msg, is_key=False: msg if is_key else decode(msg, is_key)
    consumer.subscribe([topic])
    out, deadline = [], time.time() + 60
    while len(out) < n and time.time() < deadline:
        msg = consumer.poll(1.0)
        if msg is None:
            continue
        if msg.error():
            raise SystemExit("consume error: %s" % msg.error())
        v = msg.value()
        out.append({
            "partition": msg.partition(),
            "offset": msg.offset(),
            "key": msg.key().decode(),
            "id": v["id"],
            "msg_id": str(v["msg_id"]),
            "node": v["node"],
            "node_version": v["node_version"],
            "lane": v["lane"],
            "ok": v["ok"],
            "ts": typed(v["ts"]),
            "payload": typed(v["payload"]),
            "trace_len": len(v["trace"]),
        })
    consumer.close()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
