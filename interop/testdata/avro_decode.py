"""Decode Avro bodies with Apache Avro (python3-avro).

Usage: avro_decode.py SCHEMA.avsc BODY.avro [BODY.avro ...]

Prints a JSON list with, per body, the decoded value in typed form (see
typed.py) and how many bytes the decoder consumed of how many there were.
"""

import io
import json
import sys

import avro.io
import avro.schema

from typed import typed


def main():
    with open(sys.argv[1]) as f:
        schema = avro.schema.parse(f.read())
    reader = avro.io.DatumReader(schema)
    out = []
    for path in sys.argv[2:]:
        with open(path, "rb") as f:
            body = f.read()
        buf = io.BytesIO(body)
        datum = reader.read(avro.io.BinaryDecoder(buf))
        out.append({"file": path, "value": typed(datum), "consumed": buf.tell(), "size": len(body)})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
