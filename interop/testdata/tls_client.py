"""Connect to a broker with confluent-kafka (librdkafka) over TLS.

Usage: tls_client.py BROKER CA_FILE|-

Lists the cluster's topics with AdminClient.list_topics, trusting CA_FILE
(or, with -, only the system's CAs), and prints {"ok": true, "topics":
[...]} or {"ok": false, "error": "..."} as JSON.
"""

import json
import sys

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient


def main():
    broker, ca = sys.argv[1:3]
    conf = {"bootstrap.servers": broker, "security.protocol": "SSL"}
    if ca != "-":
        conf["ssl.ca.location"] = ca
    try:
        md = AdminClient(conf).list_topics(timeout=8)
        print(json.dumps({"ok": True, "topics": sorted(md.topics)}))
    except KafkaException as e:
        print(json.dumps({"ok": False, "error": str(e)}))


if __name__ == "__main__":
    main()
