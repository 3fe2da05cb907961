"""Encode MatrizMessages with Apache Avro (python3-avro).

Usage: avro_encode.py SCHEMA.avsc OUT.avro VERSION

Writes one message body (no wire header) with the given schema: version 1
(GLYPH v1) or 2 (with subject_sid, consent and provenance). The values are
spelled out here and, identically, in avro_test.go, which decodes the
bytes with the Go codec and compares. Prints {"bytes": N}.
"""

import datetime
import io
import json
import sys

import avro.io
import avro.schema

UTC = datetime.timezone.utc


def message(version):
    glyph = {
        "id": "0e9d8c7b-6a59-4483-9271-605f4e3d2c1b",
        "kind": "memory",
        "version": str(version),
        "tags": {"ethics": "\u2696", "": ""},
    }
    if version >= 2:
        glyph["subject_sid"] = "sid-python"
        glyph["consent"] = {"granted": False, "purpose": "research"}
        glyph["provenance"] = ["python-avro", "\u8282\u70b9"]
    return {
        "msg_id": "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
        # Before 1970 with a sub-second part: negative micros.
        "ts": datetime.datetime(1969, 7, 20, 20, 17, 40, 123456, tzinfo=UTC),
        "lane": "candidate",
        "glyph": glyph,
        "payload": {
            "null": None,
            "yes": True,
            "long": -(2 ** 63),
            "double": -0.0,
            "text": "Gr\u00fc\u00dfe \U0001F30D",
            "vector": [0.5, -1.25, 1e300],
            "strings": {"items": ["a", ""]},
        },
        "topic": "trend",
    }


def main():
    with open(sys.argv[1]) as f:
        schema = avro.schema.parse(f.read())
    buf = io.BytesIO()
    avro.io.DatumWriter(schema).write(message(int(sys.argv[3])), avro.io.BinaryEncoder(buf))
    with open(sys.argv[2], "wb") as f:
        f.write(buf.getvalue())
    json.dump({"bytes": len(buf.getvalue())}, sys.stdout)


if __name__ == "__main__":
    main()
