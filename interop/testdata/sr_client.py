"""Drive the schema registry with confluent-kafka's SchemaRegistryClient.

Usage: sr_client.py REGISTRY_URL PREFIX V1.avsc V2.avsc V3.avsc

Uses two fresh subjects: PREFIX-a gets V1; PREFIX-b gets V1 then V2.
Then it asks the registry whether V2 may follow PREFIX-a (the compatible
case) and V3 may follow PREFIX-b (the incompatible case), and tries to
register V3 there. Prints everything it learnt as JSON.
"""

import json
import sys

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError


def read(path):
    with open(path) as f:
        return Schema(f.read(), "AVRO")


def main():
    url, prefix = sys.argv[1], sys.argv[2]
    v1, v2, v3 = (read(p) for p in sys.argv[3:6])
    client = SchemaRegistryClient({"url": url})
    a, b = prefix + "-a", prefix + "-b"
    out = {"subjects": [a, b]}
    out["a_v1_id"] = client.register_schema(a, v1)
    out["b_v1_id"] = client.register_schema(b, v1)
    out["b_v2_id"] = client.register_schema(b, v2)
    out["b_versions"] = client.get_versions(b)
    looked = client.lookup_schema(b, v2)
    out["lookup_v2"] = {"id": looked.schema_id, "version": looked.version, "subject": looked.subject}
    latest = client.get_latest_version(b)
    out["latest"] = {"id": latest.schema_id, "version": latest.version}
    out["schema_by_id_has_provenance"] = '"provenance"' in client.get_schema(out["b_v2_id"]).schema_str
    out["compatible_v2_after_a"] = client.test_compatibility(a, v2)
    out["compatible_v3_after_b"] = client.test_compatibility(b, v3)
    try:
        client.register_schema(b, v3)
        out["register_v3"] = {"refused": False}
    except SchemaRegistryError as e:
        out["register_v3"] = {"refused": True, "http_status": e.http_status_code,
                              "error_code": e.error_code, "message": e.error_message}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
