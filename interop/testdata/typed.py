"""Render decoded Avro values as JSON that keeps their Avro types.

Python's JSON loses what the Go side compares: a long and a double that
look alike, -0.0, NaN and the infinities, bytes, and timestamps. Each
becomes a one-key object: {"$long": "12"}, {"$double": "-0.0"},
{"$bytes": "00ff"}, {"$ts": "1773480413589793"} (microseconds since the
epoch). Strings, booleans, null, lists and maps stay as they are.
"""

import datetime
import math
import uuid

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def typed(v):
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return {"$long": str(v)}
    if isinstance(v, float):
        if math.isnan(v):
            return {"$double": "NaN"}
        if math.isinf(v):
            return {"$double": "Infinity" if v > 0 else "-Infinity"}
        return {"$double": repr(v)}
    if isinstance(v, (bytes, bytearray)):
        return {"$bytes": bytes(v).hex()}
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        return {"$ts": str((v - EPOCH) // datetime.timedelta(microseconds=1))}
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, (list, tuple)):
        return [typed(x) for x in v]
    if isinstance(v, dict):
        return {k: typed(x) for k, x in v.items()}
    raise TypeError("cannot render %r (%s)" % (v, type(v).__name__))
